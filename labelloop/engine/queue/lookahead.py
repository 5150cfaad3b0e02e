"""Lease the task after the one an annotator holds, so the labelling view shows it at once.

`labelloop.engine.queue.lease_next_task` answers the annotator's oldest open lease, so a
task leased ahead here becomes the answer of ``tasks/next`` as soon as the current one is
submitted or skipped: the view can show it without waiting for a round trip. The pick
follows the same queue order and evaluation-set share as ``tasks/next``.
"""

from __future__ import annotations

from sqlalchemy import func, select

from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.leases import (
    check_holder,
    check_lease_seconds,
    expire_leases,
)
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import hides_model_guess
from labelloop.engine.queue.evaluation import candidate_order, eval_turn, labelled_eval_count
from labelloop.engine.queue.leasing import (
    TaskInfo,
    candidate_query,
    latest_model_version,
    lease_task,
    task_info,
)
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, TaskLeaseRow, TaskRow, utcnow

__all__ = ["MAX_HELD", "lease_ahead"]

MAX_HELD = 2  # the task on screen and the one after it


def lease_ahead(
    db: Database,
    *,
    project_id: int,
    user: UserInfo,
    lease_seconds: int | None = None,
    holder: str | None = None,
) -> TaskInfo | None:
    """Lease one more task to a user who holds one, to be labelled after it.

    The parameters are those of `lease_next_task`.

    Returns
    -------
    TaskInfo or None
        The task leased ahead. A user who already holds `MAX_HELD` open leases (as
        this holder) gets
        their newest one again (asking twice never hoards tasks); a user who holds none
        gets None (lease with ``tasks/next`` first), as does one for whom nothing is open.
    """
    check_user(user, LABELLING_ROLES, "label tasks")
    check_lease_seconds(lease_seconds)
    check_holder(holder)
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        now = utcnow()
        expire_leases(session, project_id=project.id, now=now)
        held = list(
            session.execute(
                select(TaskLeaseRow)
                .where(
                    TaskLeaseRow.user_id == user.id,
                    TaskLeaseRow.project_id == project.id,
                    TaskLeaseRow.outcome.is_(None),
                    func.coalesce(TaskLeaseRow.holder, "") == (holder or ""),
                )
                .order_by(TaskLeaseRow.id)
            ).scalars()
        )
        if not held:
            return None
        ranked_by = latest_model_version(session, project.id)
        if len(held) >= MAX_HELD:
            lease = held[-1]
            return task_info(
                session.get(TaskRow, lease.task_id),
                session.get(ItemRow, lease.item_id),
                lease,
                ranked_by=ranked_by,
                plain=hides_model_guess(project.settings, user.role),
            )
        taken = session.execute(
            select(func.count())
            .select_from(TaskLeaseRow)
            .where(TaskLeaseRow.user_id == user.id, TaskLeaseRow.project_id == project.id)
        ).scalar_one()
        dialect = session.get_bind().dialect.name
        prefer_eval = eval_turn(project, taken, labelled_eval_count(session, project.id))
        task = None
        for is_eval, window in candidate_order(prefer_eval):
            task = session.execute(
                candidate_query(
                    project_id=project.id,
                    user_id=user.id,
                    is_eval=is_eval,
                    dialect=dialect,
                    window=window,
                )
            ).scalar_one_or_none()
            if task is not None:
                break
        if task is None:
            return None
        item = session.get(ItemRow, task.item_id)
        return lease_task(
            session,
            project=project,
            task=task,
            item=item,
            user=user,
            now=now,
            lease_seconds=lease_seconds,
            ranked_by=ranked_by,
            note={"ahead": True},
            holder=holder,
        )
