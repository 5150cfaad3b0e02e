"""Label quality: label errors found by confident learning on out-of-fold predictions.

Library functions a notebook can call too; the engine's rounds use them on each round's
training set. `out_of_fold_probabilities` gives each label a prediction from a model that
did not see it; `rank_label_issues` ranks the labels with cleanlab.
"""

from labelloop.quality._label_issues import (
    LabelIssues,
    out_of_fold_probabilities,
    rank_label_issues,
)

__all__ = ["LabelIssues", "out_of_fold_probabilities", "rank_label_issues"]
