"""Views for the web UI: annotator progress, the model's guess, item search, history, and
the item browser's saved filters.

Only the saved filters change state (audited); everything else here is read-only.
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
    ITEM_SORTS,
    ITEM_STATUSES,
    ItemGuess,
    ItemPage,
    ItemSummary,
    ItemTokens,
    SkipNote,
    item_tokens,
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
from labelloop.engine.browse.saved_filters import (
    FILTER_KEYS,
    SavedFilter,
    delete_saved_filter,
    list_saved_filters,
    save_filter,
)

__all__ = [
    "FILTER_KEYS",
    "ITEM_SORTS",
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
    "ItemTokens",
    "SavedFilter",
    "SkipNote",
    "RecentLabel",
    "annotator_progress",
    "annotator_throughput",
    "delete_saved_filter",
    "item_history",
    "item_tokens",
    "list_saved_filters",
    "model_guess",
    "save_filter",
    "recent_labels",
    "search_items",
]
