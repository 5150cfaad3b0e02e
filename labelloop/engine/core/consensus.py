"""Consensus of several annotators by Dawid-Skene: the fit in force and an item's label by it.

Rules
-----
1. A fit is made from the project's items with two or more counted votes (active
   ``human`` and ``import`` annotations; an annotator's latest vote on an item counts
   once), labels compared by their key (`label_key`), each annotation's ``actor`` being
   its annotator (`labelloop.quality.dawid_skene`). Fewer than two such items, or fewer
   than two distinct labels among their votes: no fit.
2. The newest stored fit is the one in force (`latest_fit`). An item's Dawid-Skene label
   is the most probable class given the fit's prior and its voters' confusion matrices
   (`consensus_winner`); two classes equally probable (to 1e-9) are a tie.
3. An item with a voter or a label the fit does not know (a newcomer since the fit) is
   decided by majority vote until the next fit: a guess about an unknown annotator would
   be no better than their one vote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.labels import label_key
from labelloop.quality import dawid_skene
from labelloop.store.tables import ConsensusFitRow

__all__ = [
    "ConsensusFit",
    "consensus_winner",
    "fit_consensus",
    "latest_fit",
]

_TIE = 1e-9


@dataclass(frozen=True)
class ConsensusFit:
    """A Dawid-Skene fit: label keys, their prior, and per annotator the confusion matrix.

    Attributes
    ----------
    classes : list of str
        Label keys, in the order of ``prior`` and of the matrices' rows and columns.
    prior : list of float
    annotators : dict
        Annotator name to ``{"confusion", "accuracy", "n_annotations"}``.
    n_items : int
        Items with two or more votes the fit was made on.
    """

    classes: list[str]
    prior: list[float]
    annotators: dict[str, dict[str, Any]]
    n_items: int

    def accuracy(self) -> dict[str, float]:
        """Each annotator's estimated accuracy (the prior-weighted diagonal)."""
        return {name: float(a["accuracy"]) for name, a in self.annotators.items()}


def fit_consensus(votes_by_item: Mapping[Any, Mapping[str, str]]) -> ConsensusFit | None:
    """Rule 1: fit Dawid-Skene on items' votes, ``{item: {annotator: label key}}``.

    Items with fewer than two votes are left out; None when nothing can be fitted.

    Examples
    --------
    >>> fit = fit_consensus({1: {"ann": '"a"', "bo": '"a"'}, 2: {"ann": '"b"', "bo": '"a"'}})
    >>> fit.classes, sorted(fit.annotators)
    (['"a"', '"b"'], ['ann', 'bo'])
    """
    shared = [votes for votes in votes_by_item.values() if len(votes) >= 2]
    classes = sorted({key for votes in shared for key in votes.values()})
    if len(shared) < 2 or len(classes) < 2:
        return None
    names = sorted({name for votes in shared for name in votes})
    column = {name: j for j, name in enumerate(names)}
    index = {key: k for k, key in enumerate(classes)}
    matrix = np.full((len(shared), len(names)), -1, dtype=np.int64)
    for i, votes in enumerate(shared):
        for name, key in votes.items():
            matrix[i, column[name]] = index[key]
    result = dawid_skene(matrix, n_classes=len(classes))
    given = (matrix >= 0).sum(axis=0)
    return ConsensusFit(
        classes=classes,
        prior=[float(p) for p in result.posteriors.mean(axis=0)],
        annotators={
            name: {
                "confusion": np.round(result.confusion[j], 6).tolist(),
                "accuracy": round(float(result.accuracy[j]), 6),
                "n_annotations": int(given[j]),
            }
            for name, j in column.items()
        },
        n_items=len(shared),
    )


def latest_fit(session: Session, project_id: int) -> ConsensusFit | None:
    """Rule 2: the project's newest stored fit, or None."""
    row = session.execute(
        select(ConsensusFitRow)
        .where(ConsensusFitRow.project_id == project_id)
        .order_by(ConsensusFitRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return ConsensusFit(
        classes=list(row.classes),
        prior=list(row.prior),
        annotators=dict(row.annotators),
        n_items=row.n_items,
    )


def consensus_winner(
    fit: ConsensusFit, votes: Sequence[tuple[str, Any]]
) -> tuple[Any, bool] | None:
    """Rules 2 and 3: an item's Dawid-Skene label and whether it is strict (not a tie).

    Parameters
    ----------
    fit : ConsensusFit
    votes : sequence of (annotator, label)
        The item's counted votes, oldest first (an annotator's latest counts).

    Returns
    -------
    (label, strict) or None
        None when a voter or a label is unknown to the fit (rule 3).

    Examples
    --------
    >>> fit = ConsensusFit(['"a"', '"b"'], [0.5, 0.5], {
    ...     "good": {"confusion": [[0.9, 0.1], [0.1, 0.9]], "accuracy": 0.9},
    ...     "poor": {"confusion": [[0.6, 0.4], [0.4, 0.6]], "accuracy": 0.6}}, 10)
    >>> consensus_winner(fit, [("good", "b"), ("poor", "a")])
    ('b', True)
    """
    latest = {name: label for name, label in votes}
    index = {key: k for k, key in enumerate(fit.classes)}
    log_post = np.log(np.asarray(fit.prior, dtype=float) + 1e-12)
    labels: dict[str, Any] = {}
    for name, label in latest.items():
        key = label_key(label)
        if name not in fit.annotators or key not in index:
            return None
        labels[key] = label
        confusion = np.asarray(fit.annotators[name]["confusion"], dtype=float)
        log_post = log_post + np.log(confusion[:, index[key]] + 1e-12)
    ranked = np.argsort(-log_post, kind="stable")
    best = int(ranked[0])
    strict = len(ranked) < 2 or log_post[best] - log_post[int(ranked[1])] > _TIE
    key = fit.classes[best]
    return (labels[key] if key in labels else json.loads(key)), bool(strict)
