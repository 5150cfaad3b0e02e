"""Placing a push in the queue: pushed items join the one scale by informativeness.

The scale is `labelloop.engine.core.priority`'s. Rules this module keeps:

1. A pushed item outside the push's batch takes its place by informativeness (rule 2
   there), like every scored item of the pool, whichever model scored those: a small
   push of confident items stays under the uncertain items of the pool.
2. An item the push picked for its batch goes on top (priority in (2, 3], in pick
   order) only if it is at least as informative as every other open scored task the
   push does not name: the pool's, and the earlier batch's (placed by the
   informativeness of their newest prediction). The others stay at their place by
   informativeness.
3. When some picked item goes on top, the earlier batch's tasks the push does not name
   leave the batch (`priority.left_batch`), as they do when a round picks its batch.
4. Only open label-queue tasks outside the evaluation set take part; tasks no model has
   scored (the unscored range) do not constrain the placing, and items stream mode asked
   on arrival keep their place above every batch.

The reads are bounded by the push, not the pool: the highest-priority scored task
outside the batch comes from the queue's index, and the earlier batch is a batch.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from labelloop.engine.core import priority
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.store.tables import PredictionRow, TaskRow

__all__ = ["place_push"]

_IN_BATCH = 500


def _open_label_tasks(project_id: int) -> tuple:
    return (
        TaskRow.project_id == project_id,
        TaskRow.queue == LABEL_QUEUE,
        TaskRow.status == "open",
        TaskRow.is_eval.is_(False),
    )


def _top_of_pool(session: Session, project_id: int, pushed: set[int]) -> float:
    """Rule 2: the highest priority of a scored task outside the batch, not pushed."""
    rows = session.execute(
        select(TaskRow.item_id, TaskRow.priority)
        .where(
            *_open_label_tasks(project_id),
            TaskRow.priority >= 0,
            TaskRow.priority < priority.BATCH_BONUS,
        )
        .order_by(TaskRow.priority.desc(), TaskRow.id)
        .limit(len(pushed) + 1)
    ).all()
    return next((float(p) for item, p in rows if item not in pushed), -np.inf)


def _newest_scores(session: Session, item_ids: list[int]) -> dict[int, float]:
    """Each item's newest prediction's informativeness."""
    found: dict[int, tuple[int, float]] = {}
    for start in range(0, len(item_ids), _IN_BATCH):
        for prediction_id, item_id, score in session.execute(
            select(PredictionRow.id, PredictionRow.item_id, PredictionRow.score).where(
                PredictionRow.item_id.in_(item_ids[start : start + _IN_BATCH])
            )
        ):
            if item_id not in found or prediction_id > found[item_id][0]:
                found[item_id] = (prediction_id, float(score))
    return {item_id: score for item_id, (_, score) in found.items()}


def _earlier_batch(session: Session, project_id: int, pushed: set[int]) -> list[tuple[int, float]]:
    """Rule 3: (task id, priority on leaving) of the earlier batch's tasks not pushed."""
    rows = [
        row
        for row in session.execute(
            select(TaskRow.id, TaskRow.item_id, TaskRow.priority).where(
                *_open_label_tasks(project_id),
                TaskRow.priority >= priority.BATCH_BONUS,
                TaskRow.priority < priority.ASKED_BONUS,
            )
        )
        if row.item_id not in pushed
    ]
    scores = _newest_scores(session, [row.item_id for row in rows])
    return [(row.id, priority.left_batch(row.priority, scores.get(row.item_id))) for row in rows]


def place_push(
    session: Session,
    *,
    project_id: int,
    item_ids: list[int],
    informativeness: np.ndarray,
    picked: np.ndarray,
    now: dt.datetime,
) -> tuple[np.ndarray, np.ndarray]:
    """Place pushed items on the scale; the earlier batch leaves when rule 3 says so.

    Parameters
    ----------
    session : Session
        The push's write transaction.
    project_id : int
    item_ids : list of int
        The pushed items with an open, non-evaluation label task.
    informativeness : ndarray of shape (n,)
        Their informativeness on the project's uncertainty scale.
    picked : ndarray of int
        Indices of the push's batch picks, in pick order.
    now : datetime

    Returns
    -------
    on_top : ndarray of int
        The indices of ``picked`` that went on top (rule 2), in pick order.
    priorities : ndarray of shape (n,)
        The pushed items' priorities.
    """
    pushed = set(item_ids)
    placed = priority.scored_priorities(informativeness)
    leaving = _earlier_batch(session, project_id, pushed)
    highest = max([_top_of_pool(session, project_id, pushed), *(p for _, p in leaving)])
    on_top = picked[placed[picked] >= highest]
    if on_top.size:
        placed[on_top] = priority.batch_priorities(on_top.size)
        if leaving:
            session.execute(
                update(TaskRow.__table__)
                .where(TaskRow.__table__.c.id == bindparam("b_id"))
                .values(priority=bindparam("b_priority"), reason=None, updated_at=now),
                [{"b_id": task, "b_priority": value} for task, value in leaving],
            )
    return on_top, placed
