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
5. Every label task has a reason in words (`queue_reason`), the one `query` shows and a
   lease carries: an evaluation-set task is there to measure the model; otherwise the
   reason its writer stored (a picked batch's, the cold start's), else its rank under
   the model version that scored it, else the cold-start order.
6. Where annotators may not see the model's guess (``show_model_guess`` off), the reason
   they get is in plain words (``plain=True``): it says what kind of pick the item is
   and never a class, a probability or a score. A strategy's reason is known by its
   words; a reason in none of them and without a number is a person's (a reviewer's
   note on a rejected item) and is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BATCH_BONUS",
    "batch_priorities",
    "priorities",
    "queue_reason",
    "rank_priorities",
]

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


# Rule 6: what a stored reason says, by the words its writers use, to a plain reason.
_PLAIN_REASONS = (
    ("represent", "a typical example of a group of similar items"),
    ("far from everything labelled", "unlike the items labelled so far"),
    ("random", "picked at random, so the labels stay a fair sample"),
)
_MODEL_WORDS = re.compile(
    r"\d|torn between|unsure|disagree|gradient|informativeness|cold start|cluster|\barm\b",
    re.IGNORECASE,
)
_PLAIN_UNSURE = "picked because the model is unsure here"
_PLAIN_RANKED = "next in line: the model can learn from it"
_PLAIN_COLD = "from the starting sample, before any model"


def queue_reason(
    stored: str | None, *, is_eval: bool, ranked_by: int | None, plain: bool = False
) -> str:
    """Rules 5 and 6: why a label task is where it is in the queue.

    Parameters
    ----------
    stored : str or None
        The task's stored ``reason`` (writers store one for a picked batch and the cold
        start, none for a task ranked among the rest of the pool).
    is_eval : bool
        Whether the task is in the evaluation set.
    ranked_by : int or None
        The model version whose scores rank the pool (None before the first).
    plain : bool, default False
        Rule 6: the reason in plain words, revealing nothing of the model's guess.

    Examples
    --------
    >>> queue_reason(None, is_eval=False, ranked_by=3)
    'ranked by informativeness under model version 3'
    >>> queue_reason("margin: the model is torn between 3 (0.24) and 8 (0.23)",
    ...              is_eval=False, ranked_by=3, plain=True)
    'picked because the model is unsure here'
    """
    if is_eval:
        return "evaluation set: labelled to measure the model, not picked by it"
    if plain:
        return _plain_reason(stored, ranked_by)
    if stored:
        return stored
    if ranked_by is not None:
        return f"ranked by informativeness under model version {ranked_by}"
    return "cold-start order (no round yet)"


def _plain_reason(stored: str | None, ranked_by: int | None) -> str:
    if not stored:
        return _PLAIN_COLD if ranked_by is None else _PLAIN_RANKED
    lowered = stored.lower()
    for words, plain in _PLAIN_REASONS:
        if words in lowered:
            return plain
    return _PLAIN_UNSURE if _MODEL_WORDS.search(stored) else stored
