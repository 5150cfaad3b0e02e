"""Label an item again right after undoing one's own label (the annotator's "undo" key).

`labelloop.engine.annotate.undo_annotation` opens the item again; this leases its task
back to the same annotator at once, beside the task they hold, so the undone item is
shown again instead of waiting for its turn in the queue.
"""

from __future__ import annotations

from sqlalchemy import select

from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.core.leases import check_holder, check_lease_seconds, is_live
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import hides_model_guess
from labelloop.engine.queue.leasing import TaskInfo, latest_model_version, lease_task, task_info
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow, TaskLeaseRow, TaskRow, utcnow

__all__ = ["lease_undone_task"]


def lease_undone_task(
    db: Database,
    *,
    annotation_id: int,
    user: UserInfo,
    lease_seconds: int | None = None,
    holder: str | None = None,
) -> TaskInfo:
    """Lease the task of an annotation the user has just undone back to that user.

    Parameters
    ----------
    db : Database
    annotation_id : int
        The caller's own annotation, already undone.
    user : UserInfo
        Its author (an active admin, annotator or reviewer).
    lease_seconds : int, optional
        How long the lease lasts; default: the project's ``lease_seconds`` setting.
    holder : str, optional
        The client session (browser tab) the new lease is for, as in `lease_next_task`.

    Returns
    -------
    TaskInfo
        The task with its item and the new lease (or the open one the user holds on it).

    Raises
    ------
    NotFoundError
        No such annotation, or it belongs to no label task.
    PermissionDeniedError
        The user is not the annotation's author.
    ConflictError
        The annotation is not undone, or the task is full (others took the open places).
    """
    check_user(user, LABELLING_ROLES, "label tasks")
    if isinstance(annotation_id, bool) or not isinstance(annotation_id, int):
        raise ValidationError("annotation_id must be an integer", field="annotation_id")
    check_lease_seconds(lease_seconds)
    check_holder(holder)
    with db.transaction() as session:
        row = session.get(AnnotationRow, annotation_id)
        if row is None:
            raise NotFoundError(f"no annotation {annotation_id}")
        if row.user_id != user.id:
            raise PermissionDeniedError("only the author of an annotation may label it again")
        if row.status != "undone":
            raise ConflictError(f"annotation {annotation_id} is {row.status}: undo it first")
        task = session.execute(
            select(TaskRow)
            .where(TaskRow.item_id == row.item_id, TaskRow.queue == LABEL_QUEUE)
            .with_for_update()
        ).scalar_one_or_none()
        if task is None:
            raise NotFoundError(f"annotation {annotation_id} has no label task")
        item = session.get(ItemRow, task.item_id)
        now = utcnow()
        lease = session.execute(
            select(TaskLeaseRow)
            .where(
                TaskLeaseRow.task_id == task.id,
                TaskLeaseRow.user_id == user.id,
                TaskLeaseRow.outcome.is_(None),
                is_live(TaskLeaseRow.expires_at, now),
            )
            .order_by(TaskLeaseRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        ranked_by = latest_model_version(session, task.project_id)
        if lease is None:
            if task.status != "open" or task.active_leases >= task.needed:
                raise ConflictError(
                    f"item {item.external_id!r} was taken by another annotator meanwhile"
                )
            project = resolve_project(session, task.project_id)
            return lease_task(
                session,
                project=project,
                task=task,
                item=item,
                user=user,
                now=now,
                lease_seconds=lease_seconds,
                ranked_by=ranked_by,
                note={"after_undo": annotation_id},
                holder=holder,
            )
        plain = hides_model_guess(resolve_project(session, task.project_id).settings, user.role)
        return task_info(task, item, lease, ranked_by=ranked_by, plain=plain)
