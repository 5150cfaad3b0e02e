"""Submitting a label for a leased task; the rules are stated in `labelloop.engine.annotate`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from labelloop.engine.annotate.effects import after_label
from labelloop.engine.core.final_label import settle_item
from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE, AnnotationInfo, annotation_info
from labelloop.engine.core.leases import open_lease_now
from labelloop.engine.core.schema import validate_label
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from labelloop.store.db import Database
from labelloop.store.prepared import Prepared
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ProjectRow,
    TaskLeaseRow,
    TaskRow,
    WebhookRow,
    utcnow,
)

__all__ = ["submit_annotation"]

# Statements of the submit path, built once (building one costs more CPU than running it).
_TASK_FOR_SUBMIT = (
    select(
        TaskRow,
        ProjectRow,
        ItemRow,
        exists().where(WebhookRow.project_id == TaskRow.project_id, WebhookRow.is_active),
    )
    .join(ProjectRow, ProjectRow.id == TaskRow.project_id)
    .join(ItemRow, ItemRow.id == TaskRow.item_id)
    .where(TaskRow.id == bindparam("task_id", type_=Integer))
    .with_for_update(of=[TaskRow, ItemRow])
)
# Run prepared on the session's connection (`labelloop.store.prepared`): the ORM's flush
# of the lease and the task cost more CPU than the database takes to run these.
_LEASES, _TASKS = TaskLeaseRow.__table__, TaskRow.__table__
_NEW_ANNOTATION = Prepared(AnnotationRow.__table__.insert().returning(AnnotationRow.__table__.c.id))
_CLOSE_LEASE = Prepared(
    _LEASES.update()
    .where(_LEASES.c.id == bindparam("lease_id", type_=Integer))
    .values(outcome="annotated", closed_at=bindparam("now"))
)
_TASK_LABELLED = Prepared(_TASKS.update().where(_TASKS.c.id == bindparam("task_id", type_=Integer)))
_MAX_KEY = 200
_MAX_TIME_MS = 7 * 24 * 3600 * 1000
MAX_COMMENT = 2000


def check_flags(unsure: Any, comment: Any) -> str | None:
    """The annotator's flag and comment, checked: the comment stripped, None when empty."""
    if not isinstance(unsure, bool):
        raise ValidationError("unsure must be true or false", field="unsure")
    if comment is None:
        return None
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise ValidationError(
            f"comment must be text of at most {MAX_COMMENT} characters", field="comment"
        )
    return comment.strip() or None


def _check_options(time_spent_ms: Any, idempotency_key: Any) -> None:
    if time_spent_ms is not None and (
        isinstance(time_spent_ms, bool)
        or not isinstance(time_spent_ms, int)
        or not 0 <= time_spent_ms <= _MAX_TIME_MS
    ):
        raise ValidationError(
            f"time_spent_ms must be an integer from 0 to {_MAX_TIME_MS}", field="time_spent_ms"
        )
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= _MAX_KEY
    ):
        raise ValidationError(
            f"idempotency key must be a string of 1 to {_MAX_KEY} characters",
            field="idempotency_key",
        )


def _key_lookup(
    session: Session, user_id: int, key: str, task_id: int, body: tuple[Any, Any, Any]
) -> AnnotationInfo | None:
    """The annotation made earlier with ``key``, if the retry's ``body`` (label, labels,
    time spent) is the one it was made with; `ConflictError` naming the key otherwise."""
    found = session.execute(
        select(AnnotationRow, ItemRow, ProjectRow)
        .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
        .join(ProjectRow, ProjectRow.id == AnnotationRow.project_id)
        .where(AnnotationRow.user_id == user_id, AnnotationRow.idempotency_key == key)
    ).first()
    if found is None:
        return None
    row, item, project = found
    if row.task_id != task_id:
        raise ConflictError(
            f"idempotency key {key!r} was used for task {row.task_id}, not {task_id}: "
            "use a new key for each annotation"
        )
    label, labels, time_spent_ms = body
    try:
        given = validate_label(project, label=label, labels=labels, payload=item.payload)
        same = given == row.label
    except ValidationError:
        same = False
    if not same or time_spent_ms != row.time_spent_ms:
        # Answering the original would tell the client its new label was stored.
        raise ConflictError(
            f"idempotency key {key!r} was used with another body (label {row.label!r}, "
            f"time_spent_ms {row.time_spent_ms}): send the same body to retry, or use a "
            "new key for a new annotation"
        )
    return annotation_info(row, item)


def _by_key(
    db: Database, user_id: int, key: str, task_id: int, body: tuple[Any, Any, Any]
) -> AnnotationInfo | None:
    with db.read() as session:
        return _key_lookup(session, user_id, key, task_id, body)


def _submit(
    session: Session,
    *,
    task_id: int,
    user: UserInfo,
    label: Any,
    labels: Any,
    time_spent_ms: int | None,
    idempotency_key: str | None,
    unsure: bool,
    comment: str | None,
) -> tuple[AnnotationInfo, bool]:
    # The task, its project and item, and whether the project has webhooks: one read,
    # locking the task and the item (PostgreSQL; SQLite holds the write lock already).
    found = session.execute(_TASK_FOR_SUBMIT, {"task_id": task_id}).first()
    if found is None or found[0].queue != LABEL_QUEUE:
        raise NotFoundError(f"no task {task_id}")
    task, project, item, has_webhooks = found
    try:
        value = validate_label(project, label=label, labels=labels, payload=item.payload)
        conn = session.connection()
        lease = open_lease_now(conn, task_id=task.id, user_id=user.id)
        if lease is None:
            raise ConflictError(_not_leased(session, task, item, user))
        lease_id, outcome = lease
        was_open = outcome is None
        if not was_open and (task.status != "open" or task.active_leases >= task.needed):
            raise ConflictError(
                f"your lease on task {task_id} expired and another annotator took it: "
                "lease a new task"
            )
    except (ValidationError, ConflictError):
        # A retry of a submit that went through closed its lease: answer the original.
        # (A retry while a lease is open is settled by the unique key on insert.)
        if idempotency_key is not None:
            body = (label, labels, time_spent_ms)
            existing = _key_lookup(session, user.id, idempotency_key, task_id, body)
            if existing is not None:
                return existing, False
        raise
    now = utcnow()
    columns = {
        "project_id": project.id,
        "item_id": task.item_id,
        "task_id": task.id,
        "user_id": user.id,
        "actor": user.name,
        "source": "human",
        "label": value,
        "time_spent_ms": time_spent_ms,
        "guideline_version": project.guideline_version or None,
        "idempotency_key": idempotency_key,
        "status": "active",
        "created_at": now,
        "unsure": unsure,
        "comment": comment,
    }
    # The idempotency constraint speaks here (an IntegrityError, as from a flush).
    annotation_id = _NEW_ANNOTATION.run(conn, columns).scalar_one()
    # Outside the session: the row is written, the object only carries its values.
    row = AnnotationRow(id=annotation_id, **columns)
    _CLOSE_LEASE.run(conn, {"lease_id": lease_id, "now": now})
    needed = max(task.needed - 1, 0)
    counts = {
        "active_leases": max(task.active_leases - 1, 0) if was_open else task.active_leases,
        "needed": needed,
        "status": "done" if needed == 0 else task.status,
        "updated_at": now,
    }
    _TASK_LABELLED.run(conn, {"task_id": task.id, **counts})
    # The task object learns the new values as stored, so no flush writes them again.
    for column, value in counts.items():
        set_committed_value(task, column, value)
    settle_item(session, project=project, item=item, task=task)
    after_label(
        session,
        project=project,
        item=item,
        row=row,
        actor=user.name,
        has_webhooks=bool(has_webhooks),
    )
    return annotation_info(row, item), True


def _not_leased(session: Session, task: TaskRow, item: ItemRow, user: UserInfo) -> str:
    """Why a submit without an open lease is refused, and what to do, in words."""
    labelled = session.execute(
        select(AnnotationRow.id).where(
            AnnotationRow.item_id == item.id,
            AnnotationRow.user_id == user.id,
            AnnotationRow.status == "active",
        )
    ).first()
    if labelled is not None:
        return (
            f"you already labelled item {item.external_id!r} (perhaps in another tab): that "
            "label stands and this one was not saved; to change it, undo it where you gave it"
        )
    return (
        f"task {task.id} (item {item.external_id!r}) is not leased to {user.name!r}: "
        "lease it with tasks/next first, or go on with the next item"
    )


def submit_annotation(
    db: Database,
    *,
    task_id: int,
    user: UserInfo,
    label: Any = None,
    labels: Any = None,
    time_spent_ms: int | None = None,
    idempotency_key: str | None = None,
    unsure: bool = False,
    comment: str | None = None,
) -> tuple[AnnotationInfo, bool]:
    """Submit a label for a task leased to ``user``.

    Parameters
    ----------
    db : Database
    task_id : int
    user : UserInfo
        The annotator holding the lease.
    label : str, optional
        For single-label projects.
    labels : list of str, optional
        For multi-label projects.
    time_spent_ms : int, optional
    idempotency_key : str, optional
        Makes a retry with the same body return the original annotation instead of
        adding one.
    unsure : bool
        The annotator doubts the label (it is still given): reviewers and admins see it.
    comment : str, optional
        Words for reviewers and admins, stored with the annotation (at most 2,000 characters).

    Returns
    -------
    (AnnotationInfo, bool)
        The annotation, and True when it was created by this call.

    Raises
    ------
    NotFoundError
        No such task.
    ValidationError
        The label does not fit the project's schema (``field="label"``).
    ConflictError
        The user holds no lease on the task, or their lease expired and was taken; or
        ``idempotency_key`` was used for another task or with another body.
    """
    check_user(user, LABELLING_ROLES, "submit annotations")
    _check_options(time_spent_ms, idempotency_key)
    comment = check_flags(unsure, comment)
    try:
        with db.transaction() as session:
            return _submit(
                session,
                task_id=task_id,
                user=user,
                label=label,
                labels=labels,
                time_spent_ms=time_spent_ms,
                idempotency_key=idempotency_key,
                unsure=unsure,
                comment=comment,
            )
    except IntegrityError:
        # A concurrent retry with the same key committed first: answer with its annotation.
        body = (label, labels, time_spent_ms)
        existing = _by_key(db, user.id, idempotency_key, task_id, body) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
