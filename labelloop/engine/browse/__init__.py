"""Read-only views for the web UI: annotator progress, the model's guess, item search, history.

Nothing here changes state, so nothing is audited.
"""

from labelloop.engine.browse.history import (
    HistoryAnnotation,
    HistoryEvent,
    HistoryPrediction,
    HistoryReview,
    ItemHistory,
    item_history,
)
from labelloop.engine.browse.items import (
    ITEM_STATUSES,
    ItemGuess,
    ItemPage,
    ItemSummary,
    model_guess,
    search_items,
)
from labelloop.engine.browse.progress import (
    AnnotatorProgress,
    AnnotatorThroughput,
    RecentLabel,
    annotator_progress,
    annotator_throughput,
    recent_labels,
)

__all__ = [
    "ITEM_STATUSES",
    "AnnotatorProgress",
    "AnnotatorThroughput",
    "HistoryAnnotation",
    "HistoryEvent",
    "HistoryPrediction",
    "HistoryReview",
    "ItemGuess",
    "ItemHistory",
    "ItemPage",
    "ItemSummary",
    "RecentLabel",
    "annotator_progress",
    "annotator_throughput",
    "item_history",
    "model_guess",
    "recent_labels",
    "search_items",
]
