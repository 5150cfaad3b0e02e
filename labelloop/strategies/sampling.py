"""Selectors that need no geometry: the k best scores, and a uniform random batch."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_k, check_random_state, check_scores

__all__ = ["random_sample", "top_k"]


def _top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the k highest scores, best first; exact ties broken at random.

    Validation is assumed done. O(n) to find the batch, O(k log k) to order it.
    """
    n = scores.shape[0]
    threshold = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > threshold)
    tied = np.flatnonzero(scores == threshold)
    picked = np.concatenate([above, rng.choice(tied, k - above.size, replace=False)])
    # Shuffle first so that the stable sort leaves equal scores in random order.
    picked = rng.permutation(picked)
    return picked[np.argsort(-scores[picked], kind="stable")].astype(np.intp, copy=False)


def top_k(
    scores: ArrayLike, k: int, *, random_state: None | int | np.random.Generator = None
) -> np.ndarray:
    """Pick the ``k`` items with the highest scores.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Informativeness of each pool item; higher is picked first.
    k : int
        Batch size, between 1 and ``n_samples``.
    random_state : None, int or numpy.random.Generator, default=None
        Breaks exact ties at random; a seed makes the pick reproducible.

    Returns
    -------
    indices : ndarray of shape (k,)
        Indices into the pool, highest score first.

    Raises
    ------
    ValidationError
        If ``scores`` is empty, not 1-D or holds NaN/inf, or ``k`` is not in [1, n_samples].

    Examples
    --------
    >>> top_k([0.1, 0.9, 0.5, 0.7], 2)
    array([1, 3])
    """
    checked = check_scores(scores)
    k = check_k(k, checked.shape[0])
    return _top_k(checked, k, check_random_state(random_state))


def random_sample(
    n_pool: int, k: int, *, random_state: None | int | np.random.Generator = None
) -> np.ndarray:
    """Pick ``k`` distinct pool items uniformly at random (the baseline every strategy must beat).

    Also exported as ``labelloop.strategies.random``.

    Parameters
    ----------
    n_pool : int
        Number of items in the pool.
    k : int
        Batch size, between 1 and ``n_pool``.
    random_state : None, int or numpy.random.Generator, default=None
        A seed makes the pick reproducible.

    Returns
    -------
    indices : ndarray of shape (k,)
        Distinct indices into the pool.

    Raises
    ------
    ValidationError
        If ``n_pool`` is not a positive int or ``k`` is not in [1, n_pool].

    Examples
    --------
    >>> random_sample(10, 3, random_state=0).shape
    (3,)
    """
    if isinstance(n_pool, bool) or not isinstance(n_pool, int | np.integer):
        raise ValidationError(f"n_pool must be an int, got {type(n_pool).__name__}", field="n_pool")
    if n_pool < 1:
        raise ValidationError("n_pool must be at least 1: the pool is empty", field="n_pool")
    k = check_k(k, int(n_pool))
    rng = check_random_state(random_state)
    return rng.choice(int(n_pool), size=k, replace=False).astype(np.intp, copy=False)
