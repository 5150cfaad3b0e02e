"""Re-prioritising the label queue after a round, the picked batch first.

The scale is `labelloop.engine.core.priority`'s. Rules this module keeps:

1. The picked batch is written first, in one short transaction (`put_batch_first`):
   from then on it leads the queue, in pick order, however far the rest has got.
2. Any other task above `BATCH_BONUS` (an earlier round's or a client model's batch)
   leaves the batch: it goes down to its place by this round's informativeness, or to
   the unscored range where this round did not score it (`priority.left_batch`).
3. The rest of the pool gets its place by informativeness in ``[0, 1)`` (in the
   unscored range ``[-1, 0)`` on a cold start), in paced write transactions
   (`labelloop.store.writes.WritePacer`), so no transaction grows with the pool.
4. Only open label-queue tasks outside the evaluation set change: evaluation-set tasks
   keep their priority, since the queue mixes them in at their own share, and so do the
   items stream mode asked on arrival (from `ASKED_BONUS` up): people were promised them.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Float, Integer, String, column, select, update, values
from sqlalchemy.orm import Session

from labelloop.engine.core.priority import ASKED_BONUS, BATCH_BONUS, left_batch
from labelloop.engine.rounds.inputs import ProjectSnapshot
from labelloop.engine.rounds.scoring import Progress, ScoredPool
from labelloop.store.db import Database
from labelloop.store.tables import TaskRow, utcnow
from labelloop.store.writes import WritePacer, driver_value

__all__ = ["put_batch_first", "write_priorities"]


def _refresh_priorities(
    session: Session, dialect: str, project_id: int, rows: list[tuple[int, float, str | None]]
) -> None:
    """Set open non-eval label tasks' priority and reason by item id: (item, priority, reason).

    PostgreSQL joins the rows as a VALUES list in one UPDATE; SQLite takes them through
    the driver's ``executemany``, the fastest it has (item ids are unique across projects).
    """
    if not rows:
        return
    tasks = TaskRow.__table__
    now = utcnow()
    if dialect == "postgresql":
        refreshed = values(
            column("item_id", Integer),
            column("priority", Float),
            column("reason", String),
            name="refreshed",
        ).data(rows)
        session.execute(
            update(tasks)
            .where(
                tasks.c.item_id == refreshed.c.item_id,
                tasks.c.project_id == project_id,
                tasks.c.queue == "label",
                tasks.c.status == "open",
                tasks.c.is_eval.is_(False),
                tasks.c.priority < ASKED_BONUS,
            )
            .values(priority=refreshed.c.priority, reason=refreshed.c.reason, updated_at=now)
        )
        return
    connection = session.connection()
    moment = driver_value(connection, tasks.c.updated_at.type, now)
    connection.exec_driver_sql(
        "UPDATE tasks SET priority = ?, reason = ?, updated_at = ? "
        "WHERE item_id = ? AND queue = 'label' AND status = 'open' AND is_eval = 0 "
        "AND priority < ?",
        [(priority, reason, moment, item_id, ASKED_BONUS) for item_id, priority, reason in rows],
    )


def put_batch_first(
    session: Session, dialect: str, project_id: int, scored: ScoredPool, priorities: np.ndarray
) -> None:
    """Give the batch the top of the queue, in pick order, and take any other task off it.

    Rules 1 and 2; ``priorities`` are the scored pool's, in ``scored.item_ids`` order.
    """
    rows = scored.batch_rows()
    picked = set(scored.batch_ids)
    above = session.execute(
        select(TaskRow.item_id, TaskRow.priority).where(
            TaskRow.project_id == project_id,
            TaskRow.queue == "label",
            TaskRow.status == "open",
            TaskRow.priority >= BATCH_BONUS,
            TaskRow.priority < ASKED_BONUS,
            TaskRow.is_eval.is_(False),
        )
    ).all()
    for item_id, priority in above:
        if item_id in picked:
            continue
        where = int(np.searchsorted(scored.item_ids, item_id))
        if where < scored.item_ids.size and scored.item_ids[where] == item_id:
            rows.append((item_id, float(priorities[where]), None))
        else:
            rows.append((item_id, left_batch(priority, None), None))
    _refresh_priorities(session, dialect, project_id, rows)


def write_priorities(
    db: Database,
    project: ProjectSnapshot,
    scored: ScoredPool,
    priorities: np.ndarray,
    progress: Progress | None,
) -> int:
    """Re-prioritise the pool's tasks, the batch first (rules 1 to 3).

    Returns the number of tasks written.
    """
    pacer = WritePacer(db)
    with db.transaction() as session:
        put_batch_first(session, db.dialect, project.id, scored, priorities)
    rest = ~np.isin(scored.item_ids, np.asarray(scored.batch_ids, dtype=np.int64))
    item_ids = scored.item_ids[rest]
    rest_priorities = priorities[rest]
    total = int(item_ids.size)

    def refresh(session: Session, start: int, stop: int) -> None:
        rows = [
            (item_id, priority, None)
            for item_id, priority in zip(
                item_ids[start:stop].tolist(), rest_priorities[start:stop].tolist(), strict=True
            )
        ]
        _refresh_priorities(session, db.dialect, project.id, rows)

    if progress:
        progress("write", 0, total)
    pacer.write(total, refresh, (lambda done: progress("write", done, total)) if progress else None)
    return total + len(scored.batch_ids)
