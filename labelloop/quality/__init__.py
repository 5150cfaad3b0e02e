"""Label quality: label errors found by confident learning on out-of-fold predictions.

Library functions a notebook can call too; the engine's rounds use them on each round's
training set. `out_of_fold_probabilities` gives each label a prediction from a model that
did not see it; `rank_label_issues` ranks the labels with cleanlab. `dawid_skene` gives
the consensus of several annotators and each one's estimated accuracy; `relabel_or_new`
says, by cleanlab's ActiveLab, whether another label on a labelled item is worth more
than a label on a new one. `confusion_counts`, `cluster_rows`, `cluster_error_rates` and
`top_terms` group where people disagree, by confusion and by clusters of similar items.
"""

from labelloop.quality._dawid_skene import Consensus, dawid_skene
from labelloop.quality._disagreements import (
    ClusterRates,
    Confusion,
    cluster_error_rates,
    cluster_rows,
    confusion_counts,
    top_terms,
)
from labelloop.quality._label_issues import (
    LabelIssues,
    out_of_fold_probabilities,
    rank_label_issues,
)
from labelloop.quality._relabel import RelabelPicks, relabel_or_new

__all__ = [
    "ClusterRates",
    "Confusion",
    "Consensus",
    "LabelIssues",
    "RelabelPicks",
    "cluster_error_rates",
    "cluster_rows",
    "confusion_counts",
    "dawid_skene",
    "out_of_fold_probabilities",
    "rank_label_issues",
    "relabel_or_new",
    "top_terms",
]
