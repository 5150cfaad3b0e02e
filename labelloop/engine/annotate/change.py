"""Changing one's own label, reopened from the history, while no reviewer has seen it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labelloop.engine.annotate.submit import check_flags
from labelloop.engine.core.final_label import settle_item
from labelloop.engine.core.identity import LABELLING_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE, AnnotationInfo, annotation_info
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.exceptions import ConflictError, NotFoundError, PermissionDeniedError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow, ReviewRow, TaskRow

__all__ = ["change_annotation"]


def change_annotation(
    db: Database,
    *,
    annotation_id: int,
    user: UserInfo,
    label: Any = None,
    labels: Any = None,
    unsure: bool | None = None,
    comment: str | None = None,
) -> AnnotationInfo:
    """Give one's own standing annotation a new label (and flag or comment); audited.

    Rules
    -----
    1. Only the author changes an annotation, and only while it stands (``active``).
    2. Once a reviewer has given a verdict on it, or the item is accepted, it is final:
       the change is refused in words, and nothing is written.
    3. The item's final label is derived again, as after a submit.

    ``unsure`` None keeps the flag; ``comment`` None keeps the comment ("" clears it).

    Raises
    ------
    NotFoundError
        No such annotation.
    PermissionDeniedError
        The user is not its author.
    ConflictError
        It is not active, or a reviewer has seen it.
    ValidationError
        The label does not fit the project's schema (``field="label"``).
    """
    check_user(user, LABELLING_ROLES, "change annotations")
    new_comment = check_flags(False if unsure is None else unsure, comment)
    with db.transaction() as session:
        row = session.get(AnnotationRow, annotation_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"no annotation {annotation_id}")
        if row.user_id != user.id:
            raise PermissionDeniedError("only the author of an annotation may change it")
        item = session.get(ItemRow, row.item_id, with_for_update=True)
        if row.status != "active":
            raise ConflictError(
                f"your label of item {item.external_id!r} is {row.status}: it cannot be changed"
            )
        reviewed = session.execute(
            select(ReviewRow.id).where(ReviewRow.annotation_id == row.id).limit(1)
        ).first()
        if reviewed is not None or item.status == "accepted":
            raise ConflictError(
                f"a reviewer has already judged your label of item {item.external_id!r}: "
                "it cannot be changed any more (see My feedback for the verdict)"
            )
        project = resolve_project(session, row.project_id)
        value = validate_label(project, label=label, labels=labels, payload=item.payload)
        before = {"label": row.label, "unsure": bool(row.unsure), "comment": row.comment}
        row.label = value
        if unsure is not None:
            row.unsure = unsure
        if comment is not None:
            row.comment = new_comment
        task = session.execute(
            select(TaskRow).where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
        ).scalar_one_or_none()
        settle_item(session, project=project, item=item, task=task)
        append_event(
            session,
            project_id=project.id,
            actor=user.name,
            action="annotation.changed",
            target=f"item:{item.external_id}",
            before={"annotation": row.id, **before},
            after={
                "label": row.label,
                "unsure": bool(row.unsure),
                "comment": row.comment,
                "item_status": item.status,
            },
        )
        return annotation_info(row, item)
