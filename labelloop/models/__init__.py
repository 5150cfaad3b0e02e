"""Model adapters: one protocol (fit / predict_proba / embed) over every model the loop drives.

scikit-learn classifiers plug in as they are; :class:`Committee` turns a list of them into
a committee; a model with ``sample_proba`` (MC dropout, ensembles) serves BALD. The
built-in per-task models of the service live in :mod:`labelloop.models.builtin`.
"""

from __future__ import annotations

from labelloop.models.adapters import (
    CHUNK_ROWS,
    Committee,
    Embeds,
    Estimator,
    SamplesProba,
    class_list,
    embed,
    member_proba,
    predict_proba,
)

__all__ = [
    "CHUNK_ROWS",
    "Committee",
    "Embeds",
    "Estimator",
    "SamplesProba",
    "class_list",
    "embed",
    "member_proba",
    "predict_proba",
]
