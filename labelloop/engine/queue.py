"""The label queue: lease the next task to an annotator, skip it, expire stale leases.

Rules
-----
- A task is offered while it is ``open`` and has fewer active leases than the
  annotations it still ``needed`` (the project's overlap); one annotator never gets
  the same item twice: not while they hold a lease on it, not after they annotated or
  skipped it. After `labelloop.engine.annotate.undo_annotation` they may take it again.
- Order: highest ``priority`` first, then oldest task; the candidate query walks index
  ``ix_tasks_next`` (project, queue, status, priority, id) and stops at the first task
  that fits, so its cost does not grow with the pool.
- Evaluation-set tasks are interleaved deterministically: an annotator's n-th lease
  (counting from 1) comes from the evaluation set when ``n % round(1 / eval_share) == 0``,
  from the rest otherwise; when the preferred kind has nothing open the other is used.
  An eval turn searches the top ``EVAL_WINDOW`` open tasks only, so it stays cheap at
  1M items once the evaluation set is labelled (eval tasks keep their cold-start
  priority, spread through the queue, so the window holds its share of them).
- A user asking again while holding an unexpired lease in the project gets that same
  task back (a page reload does not hoard tasks).
- Leases last the project's ``lease_seconds``. A lease past its expiry with no outcome
  is closed as ``expired`` lazily, by the next lease call in its project (or by
  `release_expired_leases`), and its slot goes back to the queue.
- Cost: one statement reads the project with the caller's held lease, whether any
  lease in the project expired and the caller's lease count; one more finds the task
  with its item. Expiry work runs only when something expired.
- Concurrency: on SQLite the write transaction (BEGIN IMMEDIATE) serialises lease
  calls; on PostgreSQL candidate rows are locked with ``FOR UPDATE SKIP LOCKED``, so
  simultaneous callers each get their own task and nobody waits on another's row.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.projects import DEFAULT_SETTINGS, resolve_project
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ProjectRow,
    TaskLeaseRow,
    TaskRow,
    utcnow,
)

__all__ = [
    "EVAL_WINDOW",
    "LABEL_QUEUE",
    "ItemInfo",
    "TaskInfo",
    "aware",
    "candidate_query",
    "expire_leases",
    "grant_lease",
    "item_info",
    "lease_length",
    "lease_next_task",
    "open_lease",
    "project_setting",
    "release_expired_leases",
    "skip_task",
    "task_info",
]

LABEL_QUEUE = "label"
# Lease outcomes after which the same user is not offered the task again.
_BLOCKING_OUTCOMES = ("annotated", "skipped")
_MAX_REASON = 500
# An eval turn looks for an evaluation task among this many top open tasks.
EVAL_WINDOW = 500


@dataclass(frozen=True)
class ItemInfo:
    """An item as shown to an annotator."""

    id: int
    external_id: str
    payload: dict[str, Any]
    media_url: str | None
    meta: dict[str, Any]


@dataclass(frozen=True)
class TaskInfo:
    """A task leased to an annotator."""

    id: int
    project_id: int
    item: ItemInfo
    priority: float
    reason: str | None
    is_eval: bool
    lease_id: int
    lease_expires_at: dt.datetime


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime read back from the database, as timezone-aware UTC (SQLite drops the zone)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def project_setting(project: ProjectRow, name: str) -> Any:
    """One of a project's settings, falling back to the default."""
    settings = project.settings or {}
    return settings[name] if name in settings else DEFAULT_SETTINGS.get(name)


def media_url(item: ItemRow) -> str | None:
    """Where a client fetches an item's media: the URL itself, or the service's media route."""
    if not item.media_ref:
        return None
    if item.media_ref.startswith(("http://", "https://")):
        return item.media_ref
    return f"/api/v1/items/{item.id}/media"


def item_info(item: ItemRow) -> ItemInfo:
    """The `ItemInfo` of an item row."""
    return ItemInfo(
        id=item.id,
        external_id=item.external_id,
        payload=dict(item.payload or {}),
        media_url=media_url(item),
        meta=dict(item.meta or {}),
    )


def lease_length(project: ProjectRow, lease_seconds: int | None) -> int:
    """Seconds a lease lasts: ``lease_seconds`` if given, else the project's setting."""
    value = project_setting(project, "lease_seconds") if lease_seconds is None else lease_seconds
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValidationError(
            f"lease_seconds must be a positive number, not {value!r}", field="lease_seconds"
        )
    return int(value)


def _eval_period(project: ProjectRow) -> int:
    """Every how many leases an annotator gets an evaluation task (0: never preferred)."""
    share = project_setting(project, "eval_share") or 0
    if share <= 0:
        return 0
    return max(1, round(1 / share))


def expire_leases(session: Session, *, project_id: int | None, now: dt.datetime) -> int:
    """Close leases past their expiry with outcome "expired" and free their slots.

    Audits one ``leases.expired`` event per project. Returns how many were closed.
    """
    query = select(TaskLeaseRow.id, TaskLeaseRow.task_id, TaskLeaseRow.project_id).where(
        TaskLeaseRow.outcome.is_(None), TaskLeaseRow.expires_at < now
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


def candidate_query(
    *, project_id: int, user_id: int, is_eval: bool, dialect: str, window: int | None = None
) -> Select:
    """The query for the highest-priority open task of one kind this user may take.

    Walks index ``ix_tasks_next`` in priority order and stops at the first fit; on
    PostgreSQL the row is locked with ``FOR UPDATE SKIP LOCKED``. With ``window``, only
    the first ``window`` open tasks of the queue are searched, so a search for a rare
    kind (evaluation tasks) costs a bounded index walk even when none is left.
    """
    return _candidate_select(project_id, user_id, is_eval=is_eval, dialect=dialect, window=window)


def _candidate_select(
    project_id: Any, user_id: Any, *, is_eval: bool, dialect: str, window: int | None
) -> Select:
    """`candidate_query` for values or bound parameters."""
    seen_lease = exists().where(
        TaskLeaseRow.task_id == TaskRow.id,
        TaskLeaseRow.user_id == user_id,
        or_(TaskLeaseRow.outcome.is_(None), TaskLeaseRow.outcome.in_(_BLOCKING_OUTCOMES)),
    )
    own_annotation = exists().where(
        AnnotationRow.item_id == TaskRow.item_id,
        AnnotationRow.status == "active",
        AnnotationRow.user_id == user_id,
    )
    query = (
        select(TaskRow)
        .where(
            TaskRow.project_id == project_id,
            TaskRow.queue == LABEL_QUEUE,
            TaskRow.status == "open",
            TaskRow.is_eval.is_(is_eval),
            TaskRow.active_leases < TaskRow.needed,
            ~seen_lease,
            ~own_annotation,
        )
        .order_by(TaskRow.priority.desc(), TaskRow.id)
        .limit(1)
    )
    if window is not None:
        top = (
            select(TaskRow.id)
            .where(
                TaskRow.project_id == project_id,
                TaskRow.queue == LABEL_QUEUE,
                TaskRow.status == "open",
            )
            .order_by(TaskRow.priority.desc(), TaskRow.id)
            .limit(window)
            .subquery("top_open")
        )
        # Driven by the window's rows (primary-key lookups), not by a walk of the index.
        query = query.join(top, top.c.id == TaskRow.id)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=TaskRow)
    return query


# The hot path's statements are built once, with bound parameters: building a statement
# costs more CPU than SQLite takes to run it.
_PROJECT_ID = bindparam("project_id", type_=Integer)
_USER_ID = bindparam("user_id", type_=Integer)


@functools.cache
def _candidate_statement(is_eval: bool, dialect: str, window: int | None) -> Select:
    # The item comes in the same statement, by primary key (it is not locked).
    return (
        _candidate_select(_PROJECT_ID, _USER_ID, is_eval=is_eval, dialect=dialect, window=window)
        .add_columns(ItemRow)
        .join(ItemRow, ItemRow.id == TaskRow.item_id)
    )


def _candidate(
    session: Session, *, project_id: int, user_id: int, is_eval: bool, window: int | None = None
) -> tuple[TaskRow, ItemRow] | None:
    query = _candidate_statement(is_eval, session.get_bind().dialect.name, window)
    found = session.execute(query, {"project_id": project_id, "user_id": user_id}).first()
    return None if found is None else (found[0], found[1])


@functools.cache
def _lease_state_statement() -> Select:
    """The project, with what a lease call needs to know first, in one statement.

    Parameters ``project_id``, ``user_id`` and ``now``. Columns: the `ProjectRow`; the
    user's oldest unexpired open lease in it (id or None); whether any of its open
    leases is past its expiry; how many leases the user has taken in it so far (for
    the evaluation interleave).
    """
    project_id, user_id = _PROJECT_ID, _USER_ID
    now = bindparam("now", type_=TaskLeaseRow.expires_at.type)
    open_in_project = and_(TaskLeaseRow.project_id == project_id, TaskLeaseRow.outcome.is_(None))
    held = (
        select(func.min(TaskLeaseRow.id))
        .where(open_in_project, TaskLeaseRow.user_id == user_id, TaskLeaseRow.expires_at >= now)
        .scalar_subquery()
    )
    stale = exists().where(open_in_project, TaskLeaseRow.expires_at < now)
    taken = (
        select(func.count())
        .select_from(TaskLeaseRow)
        .where(TaskLeaseRow.user_id == user_id, TaskLeaseRow.project_id == project_id)
        .scalar_subquery()
    )
    return select(ProjectRow, held, stale, taken).where(ProjectRow.id == project_id)


def task_info(task: TaskRow, item: ItemRow, lease: TaskLeaseRow) -> TaskInfo:
    """The `TaskInfo` of a task leased by ``lease``."""
    return TaskInfo(
        id=task.id,
        project_id=task.project_id,
        item=item_info(item),
        priority=float(task.priority),
        reason=task.reason,
        is_eval=bool(task.is_eval),
        lease_id=lease.id,
        lease_expires_at=aware(lease.expires_at),
    )


_HELD = (
    select(TaskLeaseRow, TaskRow, ItemRow)
    .join(TaskRow, TaskRow.id == TaskLeaseRow.task_id)
    .join(ItemRow, ItemRow.id == TaskLeaseRow.item_id)
    .where(TaskLeaseRow.id == bindparam("lease_id", type_=Integer))
)


def lease_next_task(
    db: Database, *, project_id: int, user: UserInfo, lease_seconds: int | None = None
) -> TaskInfo | None:
    """Lease the highest-priority open task this user may take.

    Parameters
    ----------
    db : Database
    project_id : int
    user : UserInfo
        An active admin, annotator or reviewer (membership is checked by the caller).
    lease_seconds : int, optional
        How long the lease lasts; default: the project's ``lease_seconds`` setting.

    Returns
    -------
    TaskInfo or None
        The task, with its item and lease; None when nothing is open for this user.
    """
    check_user(user, LABELLING_ROLES, "label tasks")
    with db.transaction() as session:
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            project_id = resolve_project(session, project_id).id
        now = utcnow()
        state = session.execute(
            _lease_state_statement(), {"project_id": project_id, "user_id": user.id, "now": now}
        ).first()
        if state is None:
            raise NotFoundError(f"no project {project_id!r}: see `labelloop project list`")
        project, held_id, has_stale, taken = state
        seconds = lease_length(project, lease_seconds)
        if has_stale:
            expire_leases(session, project_id=project.id, now=now)

        if held_id is not None:
            held, task, item = session.execute(_HELD, {"lease_id": held_id}).one()
            return task_info(task, item, held)

        period = _eval_period(project)
        prefer_eval = period > 0 and (taken + 1) % period == 0
        found = _candidate(
            session,
            project_id=project.id,
            user_id=user.id,
            is_eval=prefer_eval,
            window=EVAL_WINDOW if prefer_eval else None,
        )
        if found is None:
            found = _candidate(
                session, project_id=project.id, user_id=user.id, is_eval=not prefer_eval
            )
        if found is None:
            return None
        task, item = found

        lease = grant_lease(
            session, project=project, task=task, item=item, user=user, now=now, seconds=seconds
        )
        return task_info(task, item, lease)


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
) -> TaskLeaseRow:
    """Lease ``task`` to ``user`` in the caller's transaction: the lease row, the task's
    count of active leases and the ``task.leased`` audit event (``note`` adds to its
    details). The caller has checked that the task has a free slot for this user."""
    lease = TaskLeaseRow(
        project_id=project.id,
        task_id=task.id,
        item_id=task.item_id,
        user_id=user.id,
        leased_at=now,
        expires_at=now + dt.timedelta(seconds=seconds),
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
        after={
            "item": item.external_id,
            "lease": lease.id,
            "expires_at": lease.expires_at,
            **(note or {}),
        },
    )
    return lease


def skip_task(db: Database, *, task_id: int, user: UserInfo, reason: str | None) -> None:
    """Give a leased task back with a reason; it is re-queued for others, not for this user.

    Raises
    ------
    NotFoundError
        No such task.
    ConflictError
        The user holds no lease on this task.
    """
    check_user(user, LABELLING_ROLES, "skip tasks")
    if reason is not None and (not isinstance(reason, str) or len(reason) > _MAX_REASON):
        raise ValidationError(
            f"reason must be a string of at most {_MAX_REASON} characters", field="reason"
        )
    with db.transaction() as session:
        task = session.get(TaskRow, task_id, with_for_update=True)
        if task is None:
            raise NotFoundError(f"no task {task_id}")
        lease = open_lease(session, task_id=task.id, user_id=user.id)
        if lease is None:
            raise ConflictError(f"task {task_id} is not leased to {user.name!r}: lease it first")
        now = utcnow()
        if lease.outcome is None:
            task.active_leases = max(task.active_leases - 1, 0)
            task.updated_at = now
        lease.outcome = "skipped"
        lease.skip_reason = reason or None
        lease.closed_at = now
        item = session.get(ItemRow, task.item_id)
        append_event(
            session,
            project_id=task.project_id,
            actor=user.name,
            action="task.skipped",
            target=f"task:{task.id}",
            after={"item": item.external_id, "reason": reason or None},
        )


def release_expired_leases(db: Database) -> int:
    """Close every lease past its expiry (all projects); returns how many were closed."""
    with db.transaction() as session:
        return expire_leases(session, project_id=None, now=utcnow())


_OPEN_LEASE = (
    select(TaskLeaseRow)
    .where(
        TaskLeaseRow.task_id == bindparam("task_id", type_=Integer),
        TaskLeaseRow.user_id == _USER_ID,
        or_(TaskLeaseRow.outcome.is_(None), TaskLeaseRow.outcome == "expired"),
    )
    .order_by(TaskLeaseRow.id.desc())
    .limit(1)
)


def open_lease(session: Session, *, task_id: int, user_id: int) -> TaskLeaseRow | None:
    """The user's most recent lease on a task that has not been annotated or skipped."""
    return session.execute(
        _OPEN_LEASE, {"task_id": task_id, "user_id": user_id}
    ).scalar_one_or_none()
