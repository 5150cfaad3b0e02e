"""Leases: one model and one set of expiry rules for label tasks and review tasks.

A lease gives one user a task for a while. Label tasks keep theirs as rows of
``task_leases`` (a task may have as many as its overlap still needs); a review task,
which one reviewer takes at a time, keeps it on its own row (``assignee_id``,
``lease_expires_at``). The rules are the same for both:

1. A lease lasts `lease_length` seconds: the length the caller gives (the server's
   ``--lease-seconds``), else the project's ``lease_seconds`` setting.
2. A lease is live up to and including its expiry time; after it, it has expired.
3. An expired lease frees its task for others. Label leases are closed lazily with
   outcome ``expired`` by the next lease call in their project, or for all projects by
   `release_expired` (the service's background worker runs it every poll); a review
   lease stops counting at once and `release_expired` clears its assignee. Each
   project's expiries are audited as one ``leases.expired`` event.
4. A user asking again while holding a live lease in the project gets that task back,
   when asking as the same holder: a lease may name its holder (a browser tab, or any
   client session, `check_holder`), so one person in two tabs holds two tasks, each tab
   its own. Leases without a holder are one holder, as before holders existed.
5. A submit on an expired label lease is still honoured while nobody took its slot
   (`open_lease` finds leases closed as ``expired``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.core.settings import project_setting
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event, append_event_now
from labelloop.store.prepared import Prepared
from labelloop.store.tables import ItemRow, ProjectRow, ReviewTaskRow, TaskLeaseRow, TaskRow

__all__ = [
    "check_holder",
    "check_lease_seconds",
    "expire_leases",
    "GrantedLease",
    "grant_lease",
    "grant_lease_now",
    "grant_review_lease",
    "has_expired",
    "is_live",
    "lease_length",
    "live_review_lease",
    "open_lease",
    "open_lease_now",
    "release_expired",
    "review_lease_free",
]


def check_lease_seconds(lease_seconds: Any) -> int | None:
    """A lease length a caller gives: None (the project's) or a positive whole number."""
    if lease_seconds is not None and (
        isinstance(lease_seconds, bool) or not isinstance(lease_seconds, int) or lease_seconds < 1
    ):
        raise ValidationError("lease_seconds must be a positive integer", field="lease_seconds")
    return lease_seconds


_HOLDER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
MAX_HOLDER = 64


def check_holder(holder: Any) -> str | None:
    """Rule 4's holder a caller gives: None, or 1 to 64 letters, digits, ``-`` and ``_``."""
    if holder is None:
        return None
    if (
        not isinstance(holder, str)
        or not 0 < len(holder) <= MAX_HOLDER
        or not set(holder) <= _HOLDER_CHARS
    ):
        raise ValidationError(
            f"holder must be 1 to {MAX_HOLDER} letters, digits, '-' or '_' "
            "(a name the client picks for its tab or session)",
            field="holder",
        )
    return holder


def lease_length(project: ProjectRow, lease_seconds: int | None) -> int:
    """Rule 1: seconds a lease lasts, ``lease_seconds`` if given, else the project's setting."""
    given = check_lease_seconds(lease_seconds)
    return int(project_setting(project, "lease_seconds") if given is None else given)


def is_live(expires_at: Any, now: Any) -> Any:
    """Rule 2, for a lease's expiry column (or value) at ``now``: live until it passes."""
    return expires_at >= now


def has_expired(expires_at: Any, now: Any) -> Any:
    """Rule 2's other side: the lease's expiry time has passed at ``now``."""
    return expires_at < now


def expire_leases(session: Session, *, project_id: int | None, now: dt.datetime) -> int:
    """Close leases past their expiry with outcome "expired" and free their slots.

    Audits one ``leases.expired`` event per project. Returns how many were closed.
    """
    query = select(TaskLeaseRow.id, TaskLeaseRow.task_id, TaskLeaseRow.project_id).where(
        TaskLeaseRow.outcome.is_(None), has_expired(TaskLeaseRow.expires_at, now)
    )
    if project_id is not None:
        query = query.where(TaskLeaseRow.project_id == project_id)
    stale = session.execute(query.order_by(TaskLeaseRow.id)).all()
    closed: dict[int, list[int]] = {}
    for lease_id, task_id, lease_project in stale:
        # Re-checked in the UPDATE: a concurrent caller may have closed it first.
        done = session.execute(
            update(TaskLeaseRow)
            .where(TaskLeaseRow.id == lease_id, TaskLeaseRow.outcome.is_(None))
            .values(outcome="expired", closed_at=now)
        ).rowcount
        if done:
            closed.setdefault(lease_project, []).append(task_id)
    for lease_project, task_ids in sorted(closed.items()):
        for task_id, count in sorted(Counter(task_ids).items()):
            task = session.get(TaskRow, task_id, with_for_update=True)
            task.active_leases = max(task.active_leases - count, 0)
            task.updated_at = now
        append_event(
            session,
            project_id=lease_project,
            actor="system",
            action="leases.expired",
            target=f"project:{lease_project}",
            after={"tasks": sorted(task_ids)},
        )
    return sum(len(ids) for ids in closed.values())


def _expire_review_leases(session: Session, now: dt.datetime) -> dict[int, list[int]]:
    """Clear the assignee of open review tasks whose lease expired; ids by project."""
    stale = session.execute(
        select(ReviewTaskRow.id, ReviewTaskRow.project_id)
        .where(
            ReviewTaskRow.status == "open",
            ReviewTaskRow.assignee_id.is_not(None),
            has_expired(ReviewTaskRow.lease_expires_at, now),
        )
        .order_by(ReviewTaskRow.id)
    ).all()
    freed: dict[int, list[int]] = {}
    for task_id, project_id in stale:
        done = session.execute(
            update(ReviewTaskRow)
            .where(ReviewTaskRow.id == task_id, has_expired(ReviewTaskRow.lease_expires_at, now))
            .values(assignee_id=None, lease_expires_at=None)
        ).rowcount
        if done:
            freed.setdefault(project_id, []).append(task_id)
    return freed


def release_expired(session: Session, *, now: dt.datetime) -> int:
    """Rule 3 for every project: close expired label leases, free expired review leases.

    Returns how many leases of both kinds expired.
    """
    closed = expire_leases(session, project_id=None, now=now)
    freed = _expire_review_leases(session, now)
    for project_id, task_ids in sorted(freed.items()):
        append_event(
            session,
            project_id=project_id,
            actor="system",
            action="leases.expired",
            target=f"project:{project_id}",
            after={"review_tasks": task_ids},
        )
    return closed + sum(len(ids) for ids in freed.values())


def live_review_lease(now: dt.datetime) -> Any:
    """Rule 2 as a SQL condition: the review task's lease is live at ``now``."""
    return is_live(ReviewTaskRow.lease_expires_at, now)


def review_lease_free(now: dt.datetime) -> Any:
    """Rules 2 and 3 as a SQL condition: nobody holds a live lease on the review task."""
    return or_(
        ReviewTaskRow.assignee_id.is_(None), has_expired(ReviewTaskRow.lease_expires_at, now)
    )


def grant_review_lease(
    session: Session,
    *,
    project: ProjectRow,
    task: ReviewTaskRow,
    user: UserInfo,
    now: dt.datetime,
    seconds: int,
) -> None:
    """Lease a review task to ``user`` in the caller's transaction (audited as
    ``review.leased``). The caller has checked that nobody holds a live lease on it."""
    task.assignee_id = user.id
    task.lease_expires_at = now + dt.timedelta(seconds=seconds)
    session.flush()
    item = session.get(ItemRow, task.item_id)
    append_event(
        session,
        project_id=project.id,
        actor=user.name,
        action="review.leased",
        target=f"item:{item.external_id}",
        after={"review_task": task.id, "expires_at": task.lease_expires_at},
    )


def _leased_event(
    item_external_id: str, lease_id: int, expires_at: dt.datetime, note: dict[str, Any] | None
) -> dict[str, Any]:
    """The details of a ``task.leased`` audit event."""
    return {"item": item_external_id, "lease": lease_id, "expires_at": expires_at, **(note or {})}


def grant_lease(
    session: Session,
    *,
    project: ProjectRow,
    task: TaskRow,
    item: ItemRow,
    user: UserInfo,
    now: dt.datetime,
    seconds: int,
    note: dict[str, Any] | None = None,
    holder: str | None = None,
) -> TaskLeaseRow:
    """Lease ``task`` to ``user`` (as ``holder``, rule 4) in the caller's transaction: the
    lease row, the task's count of active leases and the ``task.leased`` audit event
    (``note`` adds to its details). The caller has checked that the task has a free slot
    for this user, and the holder (`check_holder`)."""
    lease = TaskLeaseRow(
        project_id=project.id,
        task_id=task.id,
        item_id=task.item_id,
        user_id=user.id,
        leased_at=now,
        expires_at=now + dt.timedelta(seconds=seconds),
        holder=holder,
    )
    session.add(lease)
    task.active_leases = task.active_leases + 1
    task.updated_at = now
    session.flush()
    append_event(
        session,
        project_id=project.id,
        actor=user.name,
        action="task.leased",
        target=f"task:{task.id}",
        after=_leased_event(item.external_id, lease.id, lease.expires_at, note),
    )
    return lease


@dataclass(frozen=True)
class GrantedLease:
    """The lease `grant_lease_now` wrote: its id and expiry."""

    id: int
    expires_at: dt.datetime


# `grant_lease_now`'s statements, run prepared on the driver's cursor: on the hot path
# of every annotator, SQLAlchemy's ORM flush cost more than the database takes to run them.
_LEASES = TaskLeaseRow.__table__
_TASKS = TaskRow.__table__
_NEW_LEASE = Prepared(_LEASES.insert().returning(_LEASES.c.id))
_TASK_LEASED = Prepared(
    _TASKS.update()
    .where(_TASKS.c.id == bindparam("task_id", type_=Integer))
    .values(active_leases=_TASKS.c.active_leases + 1, updated_at=bindparam("now"))
)


def grant_lease_now(
    conn: Connection,
    *,
    project_id: int,
    task_id: int,
    item_id: int,
    item_external_id: str,
    user: UserInfo,
    now: dt.datetime,
    seconds: int,
    holder: str | None = None,
) -> GrantedLease:
    """`grant_lease` on a Core write connection: the lease row, the task's count of
    active leases and the ``task.leased`` audit event, appended now and so last
    (`labelloop.store.audit.append_event_now`). The caller has locked the task (its
    row ``FOR UPDATE`` on PostgreSQL; SQLite's write lock) and checked its free slot
    and the holder."""
    expires_at = now + dt.timedelta(seconds=seconds)
    lease_id = _NEW_LEASE.run(
        conn,
        {"project_id": project_id, "task_id": task_id, "item_id": item_id,
         "user_id": user.id, "leased_at": now, "expires_at": expires_at, "holder": holder},
    ).scalar_one()  # fmt: skip
    _TASK_LEASED.run(conn, {"task_id": task_id, "now": now})
    append_event_now(
        conn,
        project_id=project_id,
        actor=user.name,
        action="task.leased",
        target=f"task:{task_id}",
        after=_leased_event(item_external_id, lease_id, expires_at, None),
    )
    return GrantedLease(id=int(lease_id), expires_at=expires_at)


_OPEN_LEASE = (
    select(TaskLeaseRow)
    .where(
        TaskLeaseRow.task_id == bindparam("task_id", type_=Integer),
        TaskLeaseRow.user_id == bindparam("user_id", type_=Integer),
        or_(TaskLeaseRow.outcome.is_(None), TaskLeaseRow.outcome == "expired"),
    )
    .order_by(TaskLeaseRow.id.desc())
    .limit(1)
)
_OPEN_LEASE_NOW = Prepared(_OPEN_LEASE.with_only_columns(_LEASES.c.id, _LEASES.c.outcome))


def open_lease(session: Session, *, task_id: int, user_id: int) -> TaskLeaseRow | None:
    """The user's most recent lease on a task that has not been annotated or skipped."""
    return session.execute(
        _OPEN_LEASE, {"task_id": task_id, "user_id": user_id}
    ).scalar_one_or_none()


def open_lease_now(
    conn: Connection, *, task_id: int, user_id: int
) -> tuple[int, str | None] | None:
    """`open_lease` on a Core connection, prepared: the lease's id and outcome, or None."""
    found = _OPEN_LEASE_NOW.run(conn, {"task_id": task_id, "user_id": user_id}).first()
    return None if found is None else (int(found[0]), found[1])
