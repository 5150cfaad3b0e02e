"""Uncertainty scores of one model's class probabilities: higher means "ask a human first".

Every score takes ``proba`` of shape (n_samples, n_classes), rows summing to 1, and returns
shape (n_samples,). With ``multilabel=True`` each column is instead the probability that
one label applies (one-vs-rest); the score is computed for each label as a two-class
problem and averaged over labels (:func:`multilabel_uncertainty` also offers the maximum).

The work runs over row blocks, so memory stays flat as the pool grows, and keeps float32
input in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._blocks import row_blocks
from labelloop.strategies._validation import check_proba

__all__ = [
    "entropy",
    "least_confidence",
    "margin",
    "multilabel_uncertainty",
    "ratio",
]

UncertaintyMethod = Literal["least_confidence", "margin", "entropy", "ratio"]


# Up to this many classes, scores run down the columns of a transposed block: a few
# ufunc calls over contiguous vectors beat per-row reductions of short rows by ~10x.
_COLUMNWISE_MAX_CLASSES = 64


def _top_two(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value of each row, in O(n_classes) per row."""
    n_classes = block.shape[1]
    if n_classes > _COLUMNWISE_MAX_CLASSES:
        top = np.partition(block, n_classes - 2, axis=1)
        return top[:, n_classes - 1], top[:, n_classes - 2]
    columns = np.ascontiguousarray(block.T)
    first = columns[0].copy()
    second = np.full_like(first, -np.inf)
    smaller = np.empty_like(first)
    for column in columns[1:]:
        # An equal value counts twice, so ties give p1 == p2.
        np.minimum(first, column, out=smaller)
        np.maximum(second, smaller, out=second)
        np.maximum(first, column, out=first)
    return first, second


def _least_confidence_rows(block: np.ndarray) -> np.ndarray:
    return 1 - np.ascontiguousarray(block.T).max(axis=0)


def _margin_rows(block: np.ndarray) -> np.ndarray:
    if block.shape[1] == 2:
        return 1 - np.abs(block[:, 0] - block[:, 1])
    first, second = _top_two(block)
    return 1 - (first - second)


def _entropy_rows(block: np.ndarray) -> np.ndarray:
    columns = np.ascontiguousarray(block.T)
    # 0 * log(tiny) is 0, which is the limit of p log p at p = 0.
    terms = np.log(np.maximum(columns, np.finfo(columns.dtype).tiny))
    terms *= columns
    return 0.0 - terms.sum(axis=0)


def _ratio_rows(block: np.ndarray) -> np.ndarray:
    first, second = _top_two(block)
    return second / first


_ROW_SCORES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "least_confidence": _least_confidence_rows,
    "margin": _margin_rows,
    "entropy": _entropy_rows,
    "ratio": _ratio_rows,
}


def _score(proba: np.ndarray, method: str) -> np.ndarray:
    """Score every row of checked, row-normalised ``proba`` block by block."""
    rows = _ROW_SCORES[method]
    out = np.empty(proba.shape[0], dtype=proba.dtype)
    for block in row_blocks(proba.shape[0]):
        out[block] = rows(proba[block])
    return out


def _score_multilabel(proba: np.ndarray, method: str, aggregate: str) -> np.ndarray:
    """Score each label column as a two-class problem, then aggregate over labels."""
    rows = _ROW_SCORES[method]
    n_samples, n_labels = proba.shape
    out = np.empty(n_samples, dtype=proba.dtype)
    for block in row_blocks(n_samples, max(1, 16_384 // n_labels)):
        positive = proba[block].reshape(-1, 1)
        two_class = np.hstack([1 - positive, positive])
        per_label = rows(two_class).reshape(-1, n_labels)
        out[block] = per_label.mean(axis=1) if aggregate == "mean" else per_label.max(axis=1)
    return out


def _public_score(proba: ArrayLike, method: str, multilabel: bool) -> np.ndarray:
    checked = check_proba(proba, multilabel=multilabel)
    if multilabel:
        return _score_multilabel(checked, method, "mean")
    return _score(checked, method)


def least_confidence(proba: ArrayLike, *, multilabel: bool = False) -> np.ndarray:
    """One minus the probability of the most likely class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities, each row summing to 1 (or one-vs-rest label probabilities
        with ``multilabel=True``).
    multilabel : bool, default=False
        Treat each column as an independent label and average the per-label scores.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In [0, 1 - 1/n_classes]; higher means less confident.

    Raises
    ------
    ValidationError
        If ``proba`` is not 2-D, is empty, holds NaN/inf or rows that do not sum to 1.

    Examples
    --------
    >>> least_confidence([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]]).round(2)
    array([0.3, 0.6])
    """
    return _public_score(proba, "least_confidence", multilabel)


def margin(proba: ArrayLike, *, multilabel: bool = False) -> np.ndarray:
    """One minus the gap between the two most likely classes (breaking ties).

    Takes the parameters and raises the errors of :func:`least_confidence`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``1 - (p1 - p2)`` in [0, 1]; 1 when the top two classes tie.

    Examples
    --------
    >>> margin([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]]).round(2)
    array([0.5, 1. ])
    """
    return _public_score(proba, "margin", multilabel)


def entropy(proba: ArrayLike, *, multilabel: bool = False) -> np.ndarray:
    """Shannon entropy of the class distribution, in nats.

    Takes the parameters and raises the errors of :func:`least_confidence`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In [0, log(n_classes)] (natural logarithm; [0, log 2] per label when multilabel).

    Examples
    --------
    >>> entropy([[0.5, 0.5], [1.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    return _public_score(proba, "entropy", multilabel)


def ratio(proba: ArrayLike, *, multilabel: bool = False) -> np.ndarray:
    """Probability of the second most likely class divided by that of the most likely.

    Takes the parameters and raises the errors of :func:`least_confidence`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``p2 / p1`` in [0, 1]; 1 when the top two classes tie.

    Examples
    --------
    >>> ratio([[0.8, 0.2], [0.5, 0.5]]).round(2)
    array([0.25, 1.  ])
    """
    return _public_score(proba, "ratio", multilabel)


def multilabel_uncertainty(
    proba: ArrayLike,
    *,
    method: UncertaintyMethod = "margin",
    aggregate: Literal["mean", "max"] = "mean",
) -> np.ndarray:
    """Uncertainty of one-vs-rest label probabilities, aggregated over labels.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_labels)
        Probability that each label applies; columns are independent, rows need not sum to 1.
    method : {"least_confidence", "margin", "entropy", "ratio"}, default="margin"
        Two-class score computed for each label.
    aggregate : {"mean", "max"}, default="mean"
        How per-label scores combine: the mean rewards items uncertain on many labels,
        the max items very uncertain on any one label.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Aggregated score; same range as ``method`` on two classes.

    Raises
    ------
    ValidationError
        If ``proba`` is not 2-D, is empty or holds values outside [0, 1], or if ``method``
        or ``aggregate`` is unknown.

    Examples
    --------
    >>> multilabel_uncertainty([[0.5, 1.0], [0.9, 0.9]], aggregate="max").round(2)
    array([1. , 0.2])
    """
    if method not in _ROW_SCORES:
        raise ValidationError(
            f"method must be one of {sorted(_ROW_SCORES)}, got {method!r}", field="method"
        )
    if aggregate not in ("mean", "max"):
        raise ValidationError(
            f"aggregate must be 'mean' or 'max', got {aggregate!r}", field="aggregate"
        )
    checked = check_proba(proba, multilabel=True)
    return _score_multilabel(checked, method, aggregate)
