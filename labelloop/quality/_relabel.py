"""Re-label or label something new: ActiveLab's scores over labelled and unlabelled items.

Rules
-----
1. Each labelled item (its annotators' labels, -1 where an annotator gave none) and each
   unlabelled candidate gets cleanlab's ActiveLab score
   (`cleanlab.multiannotator.get_active_learning_scores`): low means one more label on
   it tells the most; the two kinds of score are on one scale.
2. Of the ``k`` lowest scores over both kinds, the labelled items are re-labelled (one
   more annotation each) and the unlabelled ones labelled; a tie keeps the new item.
3. Annotators who gave no label at all are left out before scoring (cleanlab refuses
   empty columns); a labelled item without any label is an error naming its row.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_proba

__all__ = ["RelabelPicks", "relabel_or_new"]


@dataclass(frozen=True)
class RelabelPicks:
    """ActiveLab's choice between another label and a new item.

    Attributes
    ----------
    relabel : ndarray of int
        Rows of the labelled items to label again, most worth first.
    new : ndarray of int
        Rows of the unlabelled candidates to label, most worth first.
    scores_labelled, scores_unlabelled : ndarray of float
        Every row's ActiveLab score (low: worth a label).
    """

    relabel: np.ndarray
    new: np.ndarray
    scores_labelled: np.ndarray
    scores_unlabelled: np.ndarray


def relabel_or_new(
    annotations: Any, pred_probs: Any, pred_probs_unlabelled: Any, *, k: int
) -> RelabelPicks:
    """Pick ``k`` labels to ask for: again on labelled items, or on new ones (rules 1 to 3).

    Parameters
    ----------
    annotations : array-like of int, shape (n_labelled, n_annotators)
        Class indices, -1 where the annotator gave no label.
    pred_probs : array-like of shape (n_labelled, n_classes)
        The model's probabilities for the labelled items (out-of-fold where possible).
    pred_probs_unlabelled : array-like of shape (n_unlabelled, n_classes)
        May have no rows (nothing new left): then only re-labels are picked.
    k : int
        Labels to ask for.

    Returns
    -------
    RelabelPicks

    Examples
    --------
    >>> votes = np.array([[0, 1], [1, 1]])
    >>> proba = np.array([[0.5, 0.5], [0.1, 0.9]])
    >>> picks = relabel_or_new(votes, proba, np.array([[0.95, 0.05]]), k=1)
    >>> picks.relabel.tolist(), picks.new.tolist()
    ([0], [])
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValidationError(f"k must be an int >= 0, got {k!r}", field="k")
    A = np.asarray(annotations)
    if A.ndim != 2 or not np.issubdtype(A.dtype, np.integer):
        raise ValidationError(
            "annotations must be a 2-d int array (items x annotators), -1 for none",
            field="annotations",
        )
    P = check_proba(pred_probs, name="pred_probs")
    U = np.asarray(pred_probs_unlabelled, dtype=float)
    empty_pool = U.size == 0
    U = np.empty((0, P.shape[1])) if empty_pool else check_proba(U, name="pred_probs_unlabelled")
    if P.shape[0] != A.shape[0]:
        raise ValidationError(
            f"pred_probs has {P.shape[0]} rows for {A.shape[0]} labelled items",
            field="pred_probs",
        )
    if U.shape[0] and U.shape[1] != P.shape[1]:
        raise ValidationError(
            f"pred_probs_unlabelled has {U.shape[1]} classes, pred_probs {P.shape[1]}",
            field="pred_probs_unlabelled",
        )
    if A.size and (A.max() >= P.shape[1] or A.min() < -1):
        raise ValidationError(f"labels must be -1 or 0..{P.shape[1] - 1}", field="annotations")
    given = A >= 0
    empty = np.flatnonzero(~given.any(axis=1))
    if empty.size:
        raise ValidationError(f"item {int(empty[0])} has no label", field=f"annotations.{empty[0]}")
    return _relabel_or_new(A[:, given.any(axis=0)], P, U, k=int(k))


def _relabel_or_new(A: np.ndarray, P: np.ndarray, U: np.ndarray, *, k: int) -> RelabelPicks:
    """`relabel_or_new` on checked arrays (validation is assumed done)."""
    from cleanlab.multiannotator import get_active_learning_scores

    labelled = np.where(A >= 0, A.astype(float), np.nan)
    # cleanlab warns, and prints, about annotators with few shared labels: expected here.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        scores, scores_new = get_active_learning_scores(labelled, P, U if U.shape[0] else None)
    scores = np.asarray(scores, dtype=float)
    scores_new = np.asarray(scores_new, dtype=float) if U.shape[0] else np.array([])
    # New items first among equal scores (rule 2), then by row: a stable order.
    merged = np.concatenate([scores_new, scores])
    order = np.argsort(merged, kind="stable")[:k]
    n_new = scores_new.size
    return RelabelPicks(
        relabel=order[order >= n_new] - n_new,
        new=order[order < n_new],
        scores_labelled=scores,
        scores_unlabelled=scores_new,
    )
