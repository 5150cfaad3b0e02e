"""Stopping criteria: when another round of labelling stops paying off.

Each criterion returns a :class:`StopDecision` whose ``reason`` states the verdict in
words, so the engine, the CLI and the web UI can show why.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_ndim, check_scores, check_threshold

__all__ = [
    "StopDecision",
    "budget_exhausted",
    "kappa",
    "max_uncertainty_below",
    "overall_uncertainty_below",
    "stabilizing_predictions",
]


@dataclass(frozen=True)
class StopDecision:
    """The verdict of a stopping criterion.

    Attributes
    ----------
    stop : bool
        True when labelling should stop.
    value : float
        The measured quantity (kappa, uncertainty, labels used) the verdict rests on.
    reason : str
        The verdict in words, for people.
    """

    stop: bool
    value: float
    reason: str


def _check_labels(values: ArrayLike, name: str) -> np.ndarray:
    array = check_ndim(np.asarray(values), ("n_samples",), name=name)
    if array.size == 0:
        raise ValidationError(f"{name} is empty: the stop set has no samples", field=name)
    return array


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two equally long label vectors (validation assumed)."""
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    codes_a, codes_b = codes[: a.size], codes[a.size :]
    n_codes = int(codes.max()) + 1
    observed = float(np.mean(codes_a == codes_b))
    share_a = np.bincount(codes_a, minlength=n_codes) / a.size
    share_b = np.bincount(codes_b, minlength=n_codes) / b.size
    expected = float(share_a @ share_b)
    if expected == 1.0:
        # Both vectors hold one and the same label throughout: they agree perfectly.
        return 1.0
    return (observed - expected) / (1.0 - expected)


def kappa(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's kappa: agreement of two labelings beyond what chance explains.

    Parameters
    ----------
    a, b : array-like of shape (n_samples,)
        Labels (any hashable, sortable values) for the same samples.

    Returns
    -------
    kappa : float
        1 for perfect agreement, 0 for chance-level, negative for worse than chance.
        Two identical constant labelings count as perfect agreement (1.0).

    Raises
    ------
    ValidationError
        If either is empty or not 1-D, or their lengths differ.

    Examples
    --------
    >>> kappa([0, 1, 1, 0], [0, 1, 1, 0])
    1.0
    >>> round(kappa([0, 1, 1, 0], [0, 1, 0, 1]), 2)
    0.0
    """
    first, second = _check_labels(a, "a"), _check_labels(b, "b")
    if first.shape != second.shape:
        raise ValidationError(
            f"b has {second.size} labels but a has {first.size}: both must label the same samples",
            field="b",
        )
    return _kappa(first, second)


def stabilizing_predictions(
    prev_pred: ArrayLike, curr_pred: ArrayLike, *, threshold: float = 0.99
) -> StopDecision:
    """Stop when two successive models agree on a fixed stop set (kappa >= threshold).

    Parameters
    ----------
    prev_pred : array-like of shape (n_samples,)
        The previous model's predicted labels on the stop set.
    curr_pred : array-like of shape (n_samples,)
        The current model's predicted labels on the same stop set.
    threshold : float, default=0.99
        Kappa at or above which the predictions count as stable.

    Returns
    -------
    decision : StopDecision
        ``value`` is Cohen's kappa between the two predictions.

    Raises
    ------
    ValidationError
        If the predictions are empty, not 1-D or of different lengths, or ``threshold``
        is not a finite number in [-1, 1].

    Examples
    --------
    >>> stabilizing_predictions([0, 1, 1, 0], [0, 1, 1, 0]).stop
    True
    """
    threshold = check_threshold(threshold)
    if not -1.0 <= threshold <= 1.0:
        raise ValidationError(
            f"threshold must be a kappa in [-1, 1], got {threshold}", field="threshold"
        )
    prev = _check_labels(prev_pred, "prev_pred")
    curr = _check_labels(curr_pred, "curr_pred")
    if prev.shape != curr.shape:
        raise ValidationError(
            f"curr_pred has {curr.size} predictions but prev_pred has {prev.size}: "
            "both must cover the same stop set",
            field="curr_pred",
        )
    value = _kappa(prev, curr)
    if value >= threshold:
        reason = (
            f"predictions have stabilised: kappa {value:.3f} between the last two models "
            f"on {prev.size} stop-set items is at least {threshold:.3f}"
        )
        return StopDecision(True, value, reason)
    reason = (
        f"predictions are still changing: kappa {value:.3f} between the last two models "
        f"on {prev.size} stop-set items is below {threshold:.3f}"
    )
    return StopDecision(False, value, reason)


def _below(value: float, threshold: float, reason: str) -> StopDecision:
    """Stop when ``value`` is strictly below ``threshold``; ``reason`` is a template with
    ``{value}`` and ``{verdict}`` ("below <threshold>" or "not below <threshold>")."""
    stop = value < threshold
    # Scores in words read with 3 decimals, as everywhere else.
    verdict = f"{'' if stop else 'not '}below {threshold:.3f}"
    return StopDecision(stop, value, reason.format(value=f"{value:.3f}", verdict=verdict))


def max_uncertainty_below(scores: ArrayLike, threshold: float) -> StopDecision:
    """Stop when even the most uncertain pool item is below ``threshold``.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Uncertainty of every remaining pool item (e.g. from :func:`margin`).
    threshold : float
        Stop when the score measured is strictly below this.

    Returns
    -------
    decision : StopDecision
        ``value`` is the largest score.

    Raises
    ------
    ValidationError
        If ``scores`` is empty, not 1-D or holds NaN/inf, or ``threshold`` is not finite.

    Examples
    --------
    >>> max_uncertainty_below([0.05, 0.1], 0.2).stop
    True
    """
    threshold = check_threshold(threshold)
    value = float(check_scores(scores).max())
    return _below(value, threshold, "the most uncertain pool item scores {value}, {verdict}")


def overall_uncertainty_below(scores: ArrayLike, threshold: float) -> StopDecision:
    """Stop when the mean uncertainty over the pool is below ``threshold``.

    Takes the parameters (``scores`` e.g. from :func:`entropy`) and raises the errors of
    :func:`max_uncertainty_below`.

    Returns
    -------
    decision : StopDecision
        ``value`` is the mean score.

    Examples
    --------
    >>> overall_uncertainty_below([0.1, 0.5], 0.2).value
    0.3
    """
    threshold = check_threshold(threshold)
    value = float(check_scores(scores).mean(dtype=np.float64))
    return _below(value, threshold, "mean pool uncertainty {value} is {verdict}")


def budget_exhausted(n_labelled: int, budget: int) -> StopDecision:
    """Stop when the labels used reach the labelling budget.

    Parameters
    ----------
    n_labelled : int
        Labels obtained so far (non-negative).
    budget : int
        Labels the project may spend (positive).

    Returns
    -------
    decision : StopDecision
        ``value`` is ``n_labelled``.

    Raises
    ------
    ValidationError
        If ``n_labelled`` is negative or ``budget`` is not positive, or either is not an int.

    Examples
    --------
    >>> budget_exhausted(500, 500).reason
    'labelling budget spent: 500 of 500 labels used'
    """
    for name, value, minimum in (("n_labelled", n_labelled, 0), ("budget", budget, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValidationError(f"{name} must be an int, got {type(value).__name__}", field=name)
        if value < minimum:
            raise ValidationError(f"{name} must be at least {minimum}, got {value}", field=name)
    if n_labelled >= budget:
        reason = f"labelling budget spent: {n_labelled} of {budget} labels used"
        return StopDecision(True, float(n_labelled), reason)
    reason = f"{budget - n_labelled} of {budget} labels left in the budget"
    return StopDecision(False, float(n_labelled), reason)
