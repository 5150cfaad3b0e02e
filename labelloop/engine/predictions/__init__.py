"""Client models: push predictions in bulk (`push`); read final labels page by page
(`label_feed`)."""

from labelloop.engine.predictions.label_feed import MAX_PAGE, labels_since
from labelloop.engine.predictions.push import MAX_PREDICTIONS, PushReport, push_predictions

__all__ = ["MAX_PAGE", "MAX_PREDICTIONS", "PushReport", "labels_since", "push_predictions"]
