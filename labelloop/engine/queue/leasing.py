"""Leasing label tasks: the next task for an annotator, skipping one, the expiry sweep.

The queue's rules are stated in `labelloop.engine.queue`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE, ItemInfo, item_info
from labelloop.engine.core.leases import (
    GrantedLease,
    check_holder,
    check_lease_seconds,
    expire_leases,
    grant_lease,
    grant_lease_now,
    has_expired,
    is_live,
    lease_length,
    open_lease,
    release_expired,
)
from labelloop.engine.core.priority import queue_reason
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import hides_model_guess
from labelloop.engine.queue.evaluation import (
    candidate_order,
    eval_turn,
    labelled_eval_query,
)
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.prepared import Prepared
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ModelVersionRow,
    ProjectRow,
    TaskLeaseRow,
    TaskRow,
    utcnow,
)

__all__ = [
    "TaskInfo",
    "candidate_query",
    "lease_next_task",
    "latest_model_version",
    "lease_task",
    "release_expired_leases",
    "skip_task",
    "task_info",
]

# Lease outcomes after which the same user is not offered the task again.
_BLOCKING_OUTCOMES = ("annotated", "skipped")
_MAX_REASON = 500


@dataclass(frozen=True)
class TaskInfo:
    """A task leased to an annotator."""

    id: int
    project_id: int
    item: ItemInfo
    priority: float
    reason: str
    is_eval: bool
    lease_id: int
    lease_expires_at: dt.datetime


def candidate_query(
    *,
    project_id: int,
    user_id: int,
    is_eval: bool | None,
    dialect: str,
    window: int | None = None,
) -> Select:
    """The query for the highest-priority open task of one kind this user may take.

    Walks index ``ix_tasks_next`` in priority order and stops at the first fit; on
    PostgreSQL the row is locked with ``FOR UPDATE SKIP LOCKED``. With ``window``, only
    the first ``window`` open tasks of the queue are searched, so a search for a rare
    kind (evaluation tasks) costs a bounded index walk even when none is left.
    ``is_eval=None`` (with a window) takes either kind, an evaluation task first: an
    eval turn then costs one statement even when no evaluation task is left.
    """
    return _candidate_select(project_id, user_id, is_eval=is_eval, dialect=dialect, window=window)


def _candidate_select(
    project_id: Any, user_id: Any, *, is_eval: bool | None, dialect: str, window: int | None
) -> Select:
    """`candidate_query` for values or bound parameters."""
    seen_lease = exists().where(
        TaskLeaseRow.task_id == TaskRow.id,
        TaskLeaseRow.user_id == user_id,
        # IN over literals, not an expanding list: the statement runs prepared.
        or_(
            TaskLeaseRow.outcome.is_(None),
            TaskLeaseRow.outcome.in_([literal(o) for o in _BLOCKING_OUTCOMES]),
        ),
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
            TaskRow.active_leases < TaskRow.needed,
            ~seen_lease,
            ~own_annotation,
        )
        .order_by(TaskRow.priority.desc(), TaskRow.id)
        .limit(1)
    )
    if is_eval is None:
        query = query.order_by(None).order_by(
            TaskRow.is_eval.desc(), TaskRow.priority.desc(), TaskRow.id
        )
    else:
        query = query.where(TaskRow.is_eval.is_(is_eval))
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
        if dialect == "postgresql":
            # ``id = ANY(<the window's ids, as one array>)``: the array is computed once
            # and its ids looked up by primary key. Joined to the window, PostgreSQL
            # hashed the whole open queue instead (35-50 ms at 50,000 tasks).
            ids = select(func.array_agg(top.c.id)).scalar_subquery()
            query = query.where(TaskRow.id == func.any(cast(ids, ARRAY(BigInteger))))
        else:
            # Driven by the window's rows (primary-key lookups), not by a walk of the index.
            query = query.join(top, top.c.id == TaskRow.id)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=TaskRow)
    return query


# The hot path's statements are built once, with bound parameters: building a statement
# costs more CPU than SQLite takes to run it.
_PROJECT_ID = bindparam("project_id", type_=Integer)
_USER_ID = bindparam("user_id", type_=Integer)


class _Task(NamedTuple):
    """The task columns `task_info` reads."""

    id: int
    project_id: int
    item_id: int
    priority: float
    reason: str | None
    is_eval: bool


class _Item(NamedTuple):
    """The item columns `task_info` reads."""

    id: int
    external_id: str
    payload: Any
    media_ref: str | None
    meta: Any


_TASKS, _ITEMS, _LEASES = TaskRow.__table__, ItemRow.__table__, TaskLeaseRow.__table__
_TASK_COLUMNS = tuple(_TASKS.c[name] for name in _Task._fields)
_ITEM_COLUMNS = tuple(_ITEMS.c[name] for name in _Item._fields)


def _task_and_item(row: tuple[Any, ...]) -> tuple[_Task, _Item]:
    n = len(_TASK_COLUMNS)
    return _Task(*row[:n]), _Item(*row[n : n + len(_ITEM_COLUMNS)])


@functools.cache
def _candidate_statement(is_eval: bool | None, dialect: str, window: int | None) -> Prepared:
    # The item comes in the same statement, by primary key (it is not locked).
    return Prepared(
        _candidate_select(_PROJECT_ID, _USER_ID, is_eval=is_eval, dialect=dialect, window=window)
        .join(ItemRow, ItemRow.id == TaskRow.item_id)
        .with_only_columns(*_TASK_COLUMNS, *_ITEM_COLUMNS)
    )


def _candidate(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    is_eval: bool | None,
    window: int | None = None,
) -> tuple[_Task, _Item] | None:
    query = _candidate_statement(is_eval, conn.dialect.name, window)
    found = query.run(conn, {"project_id": project_id, "user_id": user_id}).first()
    return None if found is None else _task_and_item(found)


@functools.cache
def _lease_state_statement() -> Prepared:
    """The project, with what a lease call needs to know first, in one statement.

    Parameters ``project_id``, ``user_id``, ``holder`` ("" for none) and ``now``. Columns:
    the project's settings; the user's oldest unexpired open lease in it held by
    ``holder`` (id or None); whether any of its open leases is past its expiry; how many
    leases the user has taken in it so far and how many evaluation items are labelled,
    up to ``eval_min_labels`` (for `eval_turn`); the newest model version.
    """
    project_id, user_id = _PROJECT_ID, _USER_ID
    now = bindparam("now", type_=TaskLeaseRow.expires_at.type)
    open_in_project = and_(TaskLeaseRow.project_id == project_id, TaskLeaseRow.outcome.is_(None))
    held = (
        select(func.min(TaskLeaseRow.id))
        .where(
            open_in_project,
            TaskLeaseRow.user_id == user_id,
            func.coalesce(TaskLeaseRow.holder, "") == bindparam("holder", type_=String),
            is_live(TaskLeaseRow.expires_at, now),
        )
        .scalar_subquery()
    )
    stale = exists().where(open_in_project, has_expired(TaskLeaseRow.expires_at, now))
    labelled_eval = labelled_eval_query(project_id).scalar_subquery()
    taken = (
        select(func.count())
        .select_from(TaskLeaseRow)
        .where(TaskLeaseRow.user_id == user_id, TaskLeaseRow.project_id == project_id)
        .scalar_subquery()
    )
    latest = _latest_version(project_id).scalar_subquery()
    settings = ProjectRow.__table__.c.settings
    return Prepared(
        select(settings, held, stale, taken, latest, labelled_eval).where(
            ProjectRow.id == project_id
        )
    )


class _Project(NamedTuple):
    """The project columns a lease call reads (`project_setting` takes it)."""

    id: int
    settings: Any


def _latest_version(project_id: Any) -> Select:
    return select(func.max(ModelVersionRow.version)).where(ModelVersionRow.project_id == project_id)


def latest_model_version(session: Session, project_id: int) -> int | None:
    """The project's newest model version number, the one ranking its pool (None before
    the first round), for `task_info`'s reason."""
    return session.execute(_latest_version(project_id)).scalar_one()


def task_info(
    task: TaskRow | _Task,
    item: ItemRow | _Item,
    lease: TaskLeaseRow | GrantedLease,
    *,
    ranked_by: int | None,
    plain: bool = False,
) -> TaskInfo:
    """The `TaskInfo` of a task leased by ``lease``; ``ranked_by`` is the project's
    newest model version (`latest_model_version`), for the reason the task is there;
    ``plain`` gives that reason in plain words (for a caller the model's guess is hidden
    from: `labelloop.engine.core.settings.hides_model_guess`)."""
    return TaskInfo(
        id=task.id,
        project_id=task.project_id,
        item=item_info(item),
        priority=float(task.priority),
        reason=queue_reason(
            task.reason, is_eval=bool(task.is_eval), ranked_by=ranked_by, plain=plain
        ),
        is_eval=bool(task.is_eval),
        lease_id=lease.id,
        lease_expires_at=lease.expires_at,
    )


def lease_task(
    session: Session,
    *,
    project: ProjectRow,
    task: TaskRow,
    item: ItemRow,
    user: UserInfo,
    now: dt.datetime,
    lease_seconds: int | None,
    ranked_by: int | None,
    note: dict[str, Any] | None = None,
    holder: str | None = None,
) -> TaskInfo:
    """Lease ``task`` to ``user`` (as ``holder``) for `lease_length` seconds and describe
    it, in the caller's transaction (see `labelloop.engine.core.leases.grant_lease`);
    ``ranked_by`` as for `task_info`."""
    lease = grant_lease(
        session, project=project, task=task, item=item, user=user, now=now,
        seconds=lease_length(project, lease_seconds), note=note, holder=holder,
    )  # fmt: skip
    plain = hides_model_guess(project.settings, user.role)
    return task_info(task, item, lease, ranked_by=ranked_by, plain=plain)


_HELD = Prepared(
    select(*_TASK_COLUMNS, *_ITEM_COLUMNS, _LEASES.c.id, _LEASES.c.expires_at)
    .select_from(_LEASES)
    .join(_TASKS, _TASKS.c.id == _LEASES.c.task_id)
    .join(_ITEMS, _ITEMS.c.id == _LEASES.c.item_id)
    .where(_LEASES.c.id == bindparam("lease_id", type_=Integer))
)


def lease_next_task(
    db: Database,
    *,
    project_id: int,
    user: UserInfo,
    lease_seconds: int | None = None,
    holder: str | None = None,
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
    holder : str, optional
        Who holds the lease among the user's clients (a browser tab): asking again as
        the same holder gives the task it holds back; another holder gets another task
        (`labelloop.engine.core.leases`, rule 4).

    Returns
    -------
    TaskInfo or None
        The task, with its item and lease; None when nothing is open for this user.
    """
    check_user(user, LABELLING_ROLES, "label tasks")
    check_lease_seconds(lease_seconds)
    check_holder(holder)
    # A Core write connection and prepared statements (`labelloop.store.prepared`): the
    # ORM's loading and flush cost more CPU than the database takes to run them.
    with db.write_connection() as conn:
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            with Session(bind=conn, expire_on_commit=False) as session:
                project_id = resolve_project(session, project_id).id
        now = utcnow()
        keys = {"project_id": project_id, "user_id": user.id, "now": now, "holder": holder or ""}
        state = _lease_state_statement().run(conn, keys).first()
        if state is None:
            raise NotFoundError(f"no project {project_id!r}: see `labelloop project list`")
        settings, held_id, has_stale, taken, ranked_by, labelled_eval = state
        project = _Project(project_id, settings)
        if has_stale:
            # Rare: the ORM path, in a session that joins this transaction; its commit
            # flushes and chains its audit event, leaving the commit to ours.
            with Session(bind=conn, expire_on_commit=False) as session:
                expire_leases(session, project_id=project.id, now=now)
                session.commit()

        plain = hides_model_guess(settings, user.role)
        if held_id is not None:
            row = _HELD.run(conn, {"lease_id": held_id}).rows[0]
            task, item = _task_and_item(row)
            held = GrantedLease(id=row[-2], expires_at=row[-1])
            return task_info(task, item, held, ranked_by=ranked_by, plain=plain)

        for is_eval, window in candidate_order(eval_turn(project, taken, labelled_eval)):
            found = _candidate(
                conn, project_id=project.id, user_id=user.id, is_eval=is_eval, window=window
            )
            if found is not None:
                break
        if found is None:
            return None
        task, item = found
        lease = grant_lease_now(
            conn, project_id=project.id, task_id=task.id, item_id=task.item_id,
            item_external_id=item.external_id, user=user, now=now,
            seconds=lease_length(project, lease_seconds), holder=holder,
        )  # fmt: skip
        return task_info(task, item, lease, ranked_by=ranked_by, plain=plain)


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
    """Release every expired label and review lease, in all projects; returns how many.

    The service's background worker runs this each poll, so an abandoned task goes back
    to the queue (and the dashboards' counts of tasks in progress stay true) even when
    nobody asks for a task in its project.
    """
    with db.transaction() as session:
        return release_expired(session, now=utcnow())
