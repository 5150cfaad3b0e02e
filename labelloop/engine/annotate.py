"""Annotations: submit a label for a leased task, undo it, or record one without a lease.

Submitting
----------
- The user must hold a lease on the task. A lease past its expiry is still honoured
  while nobody took its place: when it has not been closed yet, or when it was closed
  as ``expired`` and the task still has a free slot. When another annotator took the
  slot, the submit is refused with `ConflictError` (nothing is written, so no
  acknowledged label is ever dropped later).
- An ``idempotency_key`` makes retries safe: the same (user, key) and the same body
  (label, time spent) returns the original annotation with ``created=False``; the same
  key with another task or body is a `ConflictError` naming the key. The unique
  constraint settles concurrent retries.
- The annotation records the guideline version in force. When the item has all its
  annotations, `labelloop.engine.core.final_label.settle_item` decides its final label and
  status; a due review creates a review task.
- Each new label may queue a retrain (setting ``retrain_every``) and emits the
  ``annotation.created`` webhook event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import settle_item
from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE, AnnotationInfo, annotation_info
from labelloop.engine.core.leases import open_lease
from labelloop.engine.core.outbox import emit_event, maybe_enqueue_retrain
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ProjectRow,
    ReviewRow,
    TaskLeaseRow,
    TaskRow,
    UserRow,
    WebhookRow,
    utcnow,
)

__all__ = [
    "record_annotation",
    "submit_annotation",
    "undo_annotation",
]

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
_MAX_KEY = 200
_MAX_TIME_MS = 7 * 24 * 3600 * 1000


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
        same = validate_label(project, label=label, labels=labels) == row.label
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


def _after_label(
    session: Session,
    *,
    project: ProjectRow,
    item: ItemRow,
    row: AnnotationRow,
    actor: str,
    has_webhooks: bool = True,
) -> None:
    """What every new label triggers: retrain check, webhook event, audit event.

    ``has_webhooks=False`` (the caller read that the project has no active webhook, in
    this transaction) skips looking for subscribers.
    """
    maybe_enqueue_retrain(session, project=project, actor=actor)
    if has_webhooks:
        emit_event(
            session,
            project_id=project.id,
            event="annotation.created",
            payload={
                "annotation_id": row.id,
                "item_id": item.external_id,
                "label": row.label,
                "actor": row.actor,
                "item_status": item.status,
                "final_label": item.final_label,
            },
        )
    append_event(
        session,
        project_id=project.id,
        actor=actor,
        action="annotation.submitted",
        target=f"item:{item.external_id}",
        after={
            "annotation": row.id,
            "task": row.task_id,
            "label": row.label,
            "item_status": item.status,
            "final_label": item.final_label,
        },
    )


def _submit(
    session: Session,
    *,
    task_id: int,
    user: UserInfo,
    label: Any,
    labels: Any,
    time_spent_ms: int | None,
    idempotency_key: str | None,
) -> tuple[AnnotationInfo, bool]:
    # The task, its project and item, and whether the project has webhooks: one read,
    # locking the task and the item (PostgreSQL; SQLite holds the write lock already).
    found = session.execute(_TASK_FOR_SUBMIT, {"task_id": task_id}).first()
    if found is None or found[0].queue != LABEL_QUEUE:
        raise NotFoundError(f"no task {task_id}")
    task, project, item, has_webhooks = found
    try:
        value = validate_label(project, label=label, labels=labels)
        lease = open_lease(session, task_id=task.id, user_id=user.id)
        if lease is None:
            raise ConflictError(
                f"task {task_id} is not leased to {user.name!r}: lease it with tasks/next first"
            )
        was_open = lease.outcome is None
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
    row = AnnotationRow(
        project_id=project.id,
        item_id=task.item_id,
        task_id=task.id,
        user_id=user.id,
        actor=user.name,
        source="human",
        label=value,
        time_spent_ms=time_spent_ms,
        guideline_version=project.guideline_version or None,
        idempotency_key=idempotency_key,
        status="active",
        created_at=now,
    )
    session.add(row)
    session.flush()  # the idempotency constraint speaks here
    lease.outcome = "annotated"
    lease.closed_at = now
    if was_open:
        task.active_leases = max(task.active_leases - 1, 0)
    task.needed = max(task.needed - 1, 0)
    if task.needed == 0:
        task.status = "done"
    task.updated_at = now
    settle_item(session, project=project, item=item, task=task)
    _after_label(
        session,
        project=project,
        item=item,
        row=row,
        actor=user.name,
        has_webhooks=bool(has_webhooks),
    )
    return annotation_info(row, item), True


def submit_annotation(
    db: Database,
    *,
    task_id: int,
    user: UserInfo,
    label: Any = None,
    labels: Any = None,
    time_spent_ms: int | None = None,
    idempotency_key: str | None = None,
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
            )
    except IntegrityError:
        # A concurrent retry with the same key committed first: answer with its annotation.
        body = (label, labels, time_spent_ms)
        existing = _by_key(db, user.id, idempotency_key, task_id, body) if idempotency_key else None
        if existing is None:
            raise
        return existing, False


def undo_annotation(db: Database, *, annotation_id: int, user: UserInfo) -> AnnotationInfo:
    """Withdraw one's own annotation before it is reviewed; the item is open again.

    The author may lease the task again afterwards.

    Raises
    ------
    NotFoundError
        No such annotation.
    PermissionDeniedError
        The user is not the annotation's author.
    ConflictError
        The annotation is not active any more, or a reviewer has seen it.
    """
    check_user(user, LABELLING_ROLES, "undo annotations")
    with db.transaction() as session:
        row = session.get(AnnotationRow, annotation_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"no annotation {annotation_id}")
        if row.user_id != user.id:
            raise PermissionDeniedError("only the author of an annotation may undo it")
        if row.status != "active":
            raise ConflictError(f"annotation {annotation_id} is {row.status} already")
        reviewed = session.execute(
            select(ReviewRow.id).where(ReviewRow.annotation_id == row.id).limit(1)
        ).first()
        item = session.get(ItemRow, row.item_id, with_for_update=True)
        if reviewed is not None or item.status == "accepted":
            raise ConflictError(
                f"annotation {annotation_id} has been reviewed: it cannot be undone"
            )
        project = resolve_project(session, row.project_id)
        row.status = "undone"
        task = session.execute(
            select(TaskRow).where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
        ).scalar_one_or_none()
        if task is not None:
            task.needed += 1
            task.status = "open"
            task.updated_at = utcnow()
            for lease in session.execute(
                select(TaskLeaseRow).where(
                    TaskLeaseRow.task_id == task.id,
                    TaskLeaseRow.user_id == user.id,
                    TaskLeaseRow.outcome == "annotated",
                )
            ).scalars():
                lease.outcome = "undone"
        settle_item(session, project=project, item=item, task=task)
        append_event(
            session,
            project_id=project.id,
            actor=user.name,
            action="annotation.undone",
            target=f"item:{item.external_id}",
            before={"annotation": row.id, "label": row.label},
            after={"item_status": item.status},
        )
        return annotation_info(row, item)


def record_annotation(
    db: Database,
    *,
    actor: str,
    project: int | str,
    external_id: str,
    label: Any = None,
    labels: Any = None,
) -> AnnotationInfo:
    """Record a label for an item without a lease (Python API and CLI users).

    The actor's earlier label on the same item, if any, is replaced (marked undone).
    The annotation counts toward the item's overlap like a leased one.

    Parameters
    ----------
    db : Database
    actor : str
        A user name (linked to that user when it exists), ``cli:<os user>`` or
        ``model:<name>`` (recorded with source ``model``).
    project : int or str
    external_id : str
        The item's external id.
    label, labels
        As for `submit_annotation`.
    """
    if not isinstance(actor, str) or not actor:
        raise ValidationError("actor must be a non-empty string", field="actor")
    if not isinstance(external_id, str | int) or isinstance(external_id, bool):
        raise ValidationError(f"not an item id: {external_id!r}", field="external_id")
    with db.transaction() as session:
        project_row = resolve_project(session, project)
        value = validate_label(project_row, label=label, labels=labels)
        item = session.execute(
            select(ItemRow)
            .where(ItemRow.project_id == project_row.id, ItemRow.external_id == str(external_id))
            .with_for_update()
        ).scalar_one_or_none()
        if item is None:
            raise NotFoundError(f"no item {external_id!r} in project {project_row.name!r}")
        user_id = session.execute(select(UserRow.id).where(UserRow.name == actor)).scalar()
        task = session.execute(
            select(TaskRow)
            .where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
            .with_for_update()
        ).scalar_one_or_none()
        previous = (
            session.execute(
                select(AnnotationRow).where(
                    AnnotationRow.item_id == item.id,
                    AnnotationRow.actor == actor,
                    AnnotationRow.status == "active",
                )
            )
            .scalars()
            .all()
        )
        for old in previous:
            old.status = "undone"
        if task is not None and not previous:
            task.needed = max(task.needed - 1, 0)
            if task.needed == 0:
                task.status = "done"
            task.updated_at = utcnow()
        row = AnnotationRow(
            project_id=project_row.id,
            item_id=item.id,
            task_id=task.id if task is not None else None,
            user_id=user_id,
            actor=actor,
            source="model" if actor.startswith("model:") else "human",
            label=value,
            guideline_version=project_row.guideline_version or None,
            status="active",
        )
        session.add(row)
        session.flush()
        settle_item(session, project=project_row, item=item, task=task)
        _after_label(session, project=project_row, item=item, row=row, actor=actor)
        return annotation_info(row, item)
