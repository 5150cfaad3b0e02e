"""Clopper-Pearson bounds on a precision measured as ``k`` correct out of ``n``.

Rules
-----
1. The bounds are exact for the binomial (Clopper-Pearson), by `scipy.stats.beta`:
   they hold for any sample size, where a normal approximation does not.
2. `precision_lower_bound` is one-sided at level ``1 - risk``: the precision is at least
   the bound with probability ``1 - risk``. No correct item (``k = 0``) bounds it by 0.
3. `precision_interval` is two-sided at level ``1 - risk`` (``risk / 2`` each side);
   with ``n = 0`` it is ``(0, 1)``: nothing is known.
4. ``k`` and ``n`` may be fractional (a sample scaled up to ask how many labels a bound
   would need); the beta distribution takes real parameters.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["check_level", "precision_interval", "precision_lower_bound"]


def check_level(value: Any, *, name: str) -> float:
    """Return ``value`` as a float strictly between 0 and 1, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name} must be a number, got {type(value).__name__}", field=name)
    if not 0 < float(value) < 1:
        raise ValidationError(f"{name} must be strictly between 0 and 1, got {value}", field=name)
    return float(value)


def _check_counts(k: Any, n: Any) -> tuple[int, int]:
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValidationError(
                f"{name} must be a non-negative integer, got {value!r}", field=name
            )
    if k > n:
        raise ValidationError(f"k must be at most n, got k={k} > n={n}", field="k")
    return int(k), int(n)


def _lower(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Rule 2 on arrays, validation assumed done: 0 where ``k`` is 0 (or ``n`` is)."""
    from scipy.stats import beta

    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    positive = k > 0
    bound = np.zeros(np.broadcast(k, n).shape)
    if positive.any():
        kk, nn = np.broadcast_arrays(k, n)
        bound[positive] = beta.ppf(alpha, kk[positive], nn[positive] - kk[positive] + 1)
    return bound


def _upper(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """The one-sided upper bound at level ``1 - alpha``: 1 where every item is correct."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return 1.0 - _lower(n - k, n, alpha)


def precision_lower_bound(k: int, n: int, *, risk: float = 0.05) -> float:
    """The one-sided Clopper-Pearson lower bound of a precision (rule 2).

    Parameters
    ----------
    k : int
        Correct items.
    n : int
        Items measured.
    risk : float
        The chance that the true precision lies below the bound, in (0, 1).

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> round(precision_lower_bound(59, 59, risk=0.05), 4)
    0.9505
    """
    k, n = _check_counts(k, n)
    risk = check_level(risk, name="risk")
    return float(_lower(np.array(k), np.array(n), risk))


def precision_interval(k: int, n: int, *, risk: float = 0.05) -> tuple[float, float]:
    """The two-sided Clopper-Pearson interval of a precision at level ``1 - risk`` (rule 3).

    Examples
    --------
    >>> low, high = precision_interval(18, 20, risk=0.05)
    >>> round(low, 3), round(high, 3)
    (0.683, 0.988)
    """
    k, n = _check_counts(k, n)
    risk = check_level(risk, name="risk")
    if n == 0:
        return 0.0, 1.0
    return (
        float(_lower(np.array(k), np.array(n), risk / 2)),
        float(_upper(np.array(k), np.array(n), risk / 2)),
    )
