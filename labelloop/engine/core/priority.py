"""The priority scale of the label queue: one place says what a task's priority means.

Rules
-----
1. Informativeness is one number per item on the project's uncertainty scale
   (`uncertainty_measure`: the project's strategy when that is an uncertainty score,
   least confidence, margin, entropy or ratio, else margin), computed from an item's
   class probabilities by whichever model gave them: a round's, a client model's push,
   or the latest round's model scoring items imported after it.
2. A scored task outside a picked batch has priority ``u / (1 + u)`` in ``[0, 1)`` for
   its informativeness ``u`` (`scored_priorities`): the same informativeness gives the
   same priority whenever and by whichever model it was scored, so a confident item
   never outranks a more uncertain one, and items scored later merge into the pool.
3. A picked batch sits above every other scored task, in pick order: the item picked
   ``r``-th (from 0) of a batch of ``k`` gets ``2 + (k - r) / k``, in ``(2, 3]``. A new
   batch takes the place of the one before: its tasks leave the batch (`left_batch`).
   Above the batch, from `ASKED_BONUS` (4) up, sit the items stream mode asked on
   arrival, most informative first; rounds and pushes leave them there.
4. A task no model has scored yet (the cold start, an item imported after a round
   until it is scored) sits in ``[-1, 0)``, under every scored task, in its cold-start
   order (`unscored_priorities`): until it is scored it never outranks an item a model
   found more informative.
5. A task that leaves the batch goes back to its informativeness (rule 2) when it has
   one, else to the unscored range (rule 4). Evaluation-set tasks keep their priority,
   since no strategy picks them.
6. The queue hands out the highest priority first, then the oldest task.
7. Every label task has a reason in words (`queue_reason`), the one `query` shows and a
   lease carries: an evaluation-set task is there to measure the model; otherwise the
   reason its writer stored (a picked batch's, the cold start's), else its place under
   the model version that scored it, else the cold-start order.
8. A box image's informativeness (rule 1's number for a box project) comes from the
   boxes a client detector pushed: each box's uncertainty, ``1 - score`` or its class
   probabilities on the uncertainty scale (setting ``box_uncertainty``), aggregated by
   ``box_score`` (`box_informativeness`, after `labelloop.boxes.image_informativeness`).
9. Where annotators may not see the model's guess (``show_model_guess`` off), the reason
   they get is in plain words (``plain=True``): it says what kind of pick the item is
   and never a class, a probability or a score. A strategy's reason is known by its
   words; a reason in none of them and without a number is a person's (a reviewer's
   note on a rejected item) and is shown as it is.
"""

from __future__ import annotations

import re
from typing import Any, get_args

import numpy as np
from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from labelloop.store.tables import ModelVersionRow, RoundRow

__all__ = [
    "ASKED_BONUS",
    "box_informativeness",
    "BATCH_BONUS",
    "ranking_model",
    "ranking_model_id",
    "batch_priorities",
    "left_batch",
    "queue_reason",
    "rank_priorities",
    "scored_priorities",
    "uncertainty",
    "uncertainty_measure",
    "unscored_priorities",
]

BATCH_BONUS = 2.0
ASKED_BONUS = 4.0  # rule 3: stream mode's asked items, above every batch (whose top is 3)
_BELOW_ZERO = float(np.nextafter(0.0, -1.0))  # the top of the unscored range


def uncertainty_measure(strategy: str) -> str:
    """Rule 1: the project's uncertainty scale, a `labelloop.strategies` score's name.

    Examples
    --------
    >>> uncertainty_measure("entropy"), uncertainty_measure("auto")
    ('entropy', 'margin')
    """
    from labelloop.strategies.uncertainty import UncertaintyMethod

    return strategy if strategy in get_args(UncertaintyMethod) else "margin"


def uncertainty(proba: np.ndarray, *, measure: str, multi_label: bool) -> np.ndarray:
    """Rule 1: each row of ``proba``'s informativeness on the scale ``measure`` names.

    Examples
    --------
    >>> uncertainty(np.array([[0.99, 0.01], [0.5, 0.5]]), measure="margin",
    ...             multi_label=False).round(2).tolist()
    [0.02, 1.0]
    """
    from labelloop import strategies

    if proba.shape[0] == 0:
        return np.zeros(0)
    score = getattr(strategies, measure)
    return np.asarray(score(proba, multilabel=multi_label), dtype=np.float64)


def box_informativeness(boxes: list[dict], settings: dict, *, strategy: str) -> tuple[float, int]:
    """Rule 8: ``(informativeness, unsure boxes)`` of an image from its pushed boxes.

    Examples
    --------
    >>> settings = {"box_uncertainty": "score", "box_score": "max", "box_topk": 3,
    ...             "box_unsure_below": 0.5}
    >>> box_informativeness([{"score": 0.9}, {"score": 0.3}], settings, strategy="auto")
    (0.7, 1)
    """
    from labelloop.boxes import image_informativeness

    scores = np.fromiter((float(b["score"]) for b in boxes), dtype=np.float64, count=len(boxes))
    uncertainties = 1.0 - scores
    if settings["box_uncertainty"] == "probabilities" and boxes:
        rows = [j for j, b in enumerate(boxes) if b.get("probabilities") is not None]
        if rows:
            matrix = np.asarray([boxes[j]["probabilities"] for j in rows], dtype=np.float64)
            uncertainties[rows] = uncertainty(
                matrix, measure=uncertainty_measure(strategy), multi_label=False
            )
    return image_informativeness(
        uncertainties,
        scores,
        method=settings["box_score"],
        k=int(settings["box_topk"]),
        unsure_below=float(settings["box_unsure_below"]),
    )


def scored_priorities(informativeness: np.ndarray) -> np.ndarray:
    """Rule 2: the priority of scored tasks outside a batch, ``u / (1 + u)`` in ``[0, 1)``.

    Examples
    --------
    >>> scored_priorities(np.array([0.0, 0.5, 1.0])).tolist()
    [0.0, 0.3333333333333333, 0.5]
    """
    u = np.clip(np.asarray(informativeness, dtype=np.float64), 0.0, None)
    return u / (1.0 + u)


def rank_priorities(scores: np.ndarray) -> np.ndarray:
    """Each score's rank among ``scores``, scaled to ``[0, 1)`` (ties keep item order).

    Examples
    --------
    >>> rank_priorities(np.array([0.9, 0.1, 0.5])).tolist()
    [0.6666666666666666, 0.0, 0.3333333333333333]
    """
    n = scores.shape[0]
    ranks = np.empty(n, dtype=np.float64)
    ranks[np.argsort(scores, kind="stable")] = np.arange(n)
    return ranks / n if n else ranks


def unscored_priorities(order: np.ndarray) -> np.ndarray:
    """Rule 4: cold-start order values in ``[0, 1)`` (a rank, a random permutation's
    share) moved to ``[-1, 0)``, under every scored task.

    Examples
    --------
    >>> unscored_priorities(np.array([0.0, 0.5])).tolist()
    [-1.0, -0.5]
    """
    return np.asarray(order, dtype=np.float64) - 1.0


def batch_priorities(k: int) -> np.ndarray:
    """Rule 3: the priorities of a batch of ``k`` in pick order, ``2 + (k - r) / k``.

    Examples
    --------
    >>> batch_priorities(4).tolist()
    [3.0, 2.75, 2.5, 2.25]
    """
    size = max(int(k), 1)
    return BATCH_BONUS + (size - np.arange(int(k), dtype=np.float64)) / size


def left_batch(priority: float, informativeness: float | None) -> float:
    """Rule 5: the priority of a task leaving the batch (it held ``priority``).

    Examples
    --------
    >>> left_batch(2.5, 1.0), left_batch(2.5, None)
    (0.5, -0.5)
    """
    if informativeness is not None:
        return float(scored_priorities(np.array([informativeness]))[0])
    return min(float(priority) - BATCH_BONUS - 1.0, _BELOW_ZERO)


def ranking_model_id(project_id: Any) -> ScalarSelect[Any]:
    """The id of the model version that ranks the pool (see `ranking_model`), as a scalar
    subquery: ``project_id`` is a value, or a column to correlate with."""
    return (
        select(RoundRow.model_version_id)
        .where(RoundRow.project_id == project_id, RoundRow.model_version_id.is_not(None))
        .order_by(RoundRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def ranking_model(session: Session, project_id: int) -> tuple[int, int] | None:
    """The model that ranks the pool: the latest round's that fitted one (its model
    version's id and number), None before a round fitted one. Items imported after it
    are scored by it."""
    row = session.execute(
        select(ModelVersionRow.id, ModelVersionRow.version).where(
            ModelVersionRow.id == ranking_model_id(project_id)
        )
    ).first()
    return None if row is None else (int(row.id), int(row.version))


# Rule 8: what a stored reason says, by the words its writers use, to a plain reason.
_PLAIN_REASONS = (
    ("represent", "a typical example of a group of similar items"),
    ("far from everything labelled", "unlike the items labelled so far"),
    ("random", "picked at random, so the labels stay a fair sample"),
    ("another annotation", "asked again: one more label makes this item's label surer"),
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
    """Rules 7 and 8: why a label task is where it is in the queue.

    Parameters
    ----------
    stored : str or None
        The task's stored ``reason`` (writers store one for a picked batch and the cold
        start, none for a task placed by its informativeness).
    is_eval : bool
        Whether the task is in the evaluation set.
    ranked_by : int or None
        The model version whose scores rank the pool (None before the first).
    plain : bool, default False
        Rule 8: the reason in plain words, revealing nothing of the model's guess.

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
