"""Undoing an annotation while no reviewer has seen it; the task opens again."""

from __future__ import annotations

from sqlalchemy import select

from labelloop.engine.core.final_label import settle_item
from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE, AnnotationInfo, annotation_info
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ReviewRow,
    TaskLeaseRow,
    TaskRow,
    utcnow,
)

__all__ = ["undo_annotation"]


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
