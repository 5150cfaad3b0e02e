"""The priority scale of the label queue: one place says what a task's priority means.

Rules
-----
1. A scored task outside the picked batch gets its score's rank in ``[0, 1)``:
   ``rank / n`` over the ``n`` items scored together (ties keep item order), so the
   scale of any one strategy's scores does not matter.
2. The picked batch sits above everything, in pick order: the item picked ``r``-th
   (from 0) of a batch of ``k`` gets ``2 + (k - r) / k``, in ``(2, 3]``.
3. A task that leaves the batch without being re-scored drops by `BATCH_BONUS` (back
   under 2); evaluation-set tasks keep their priority, since no strategy picks them.
4. The queue hands out the highest priority first, then the oldest task.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BATCH_BONUS", "batch_priorities", "priorities", "rank_priorities"]

BATCH_BONUS = 2.0


def rank_priorities(scores: np.ndarray) -> np.ndarray:
    """Rule 1: each score's rank among ``scores``, scaled to ``[0, 1)``.

    Examples
    --------
    >>> rank_priorities(np.array([0.9, 0.1, 0.5])).tolist()
    [0.6666666666666666, 0.0, 0.3333333333333333]
    """
    n = scores.shape[0]
    ranks = np.empty(n, dtype=np.float64)
    ranks[np.argsort(scores, kind="stable")] = np.arange(n)
    return ranks / n if n else ranks


def batch_priorities(k: int) -> np.ndarray:
    """Rule 2: the priorities of a batch of ``k`` in pick order, ``2 + (k - r) / k``.

    Examples
    --------
    >>> batch_priorities(4).tolist()
    [3.0, 2.75, 2.5, 2.25]
    """
    size = max(int(k), 1)
    return BATCH_BONUS + (size - np.arange(int(k), dtype=np.float64)) / size


def priorities(scores: np.ndarray, picked: Sequence[int] | np.ndarray) -> np.ndarray:
    """Rules 1 and 2 together: every scored item's priority, ``picked`` (indices) on top."""
    result = rank_priorities(scores)
    picked = np.asarray(picked, dtype=np.int64)
    result[picked] = batch_priorities(picked.size)
    return result
