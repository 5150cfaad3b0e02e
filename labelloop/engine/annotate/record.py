"""Recording a label for an item without a lease (Python API and CLI users), replacing the
actor's earlier label on it; and withdrawing such labels when their source takes them back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from labelloop.engine.annotate.effects import after_label
from labelloop.engine.core.final_label import settle_item
from labelloop.engine.core.items import LABEL_QUEUE, AnnotationInfo, annotation_info
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import (
    NotFoundError,
    ValidationError,
)
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ReviewRow,
    TaskRow,
    UserRow,
    utcnow,
)

__all__ = ["record_annotation", "withdraw_recorded"]


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
        if project_row.task_type not in ("ner", "boxes"):
            # Checked before the item is locked; an entity or box label needs the item.
            value = validate_label(project_row, label=label, labels=labels)
        item = session.execute(
            select(ItemRow)
            .where(ItemRow.project_id == project_row.id, ItemRow.external_id == str(external_id))
            .with_for_update()
        ).scalar_one_or_none()
        if item is None:
            raise NotFoundError(f"no item {external_id!r} in project {project_row.name!r}")
        if project_row.task_type in ("ner", "boxes"):
            value = validate_label(project_row, label=label, payload=item.payload)
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
        after_label(session, project=project_row, item=item, row=row, actor=actor)
        return annotation_info(row, item)


def withdraw_recorded(db: Database, *, actor: str, project: int | str) -> int:
    """Withdraw the active labels ``actor`` recorded without a lease in ``project``.

    The counterpart of `record_annotation` for a label taken back at its source (a
    Label Studio annotation deleted or skipped): each active annotation of the actor
    is marked undone and the item's final label is settled anew. An annotation a
    reviewer has seen stays, as it would for `undo_annotation`. The item's task then
    needs what its overlap asks for beyond the labels still active on it.

    Returns
    -------
    int
        How many annotations were withdrawn (0 when the actor has none active).
    """
    if not isinstance(actor, str) or not actor:
        raise ValidationError("actor must be a non-empty string", field="actor")
    with db.transaction() as session:
        project_row = resolve_project(session, project)
        rows = (
            session.execute(
                select(AnnotationRow)
                .where(
                    AnnotationRow.project_id == project_row.id,
                    AnnotationRow.actor == actor,
                    AnnotationRow.status == "active",
                )
                .with_for_update()
            )
            .scalars()
            .all()
        )
        overlap = effective_settings(project_row)["overlap"]
        withdrawn = 0
        for row in rows:
            reviewed = session.execute(
                select(ReviewRow.id).where(ReviewRow.annotation_id == row.id).limit(1)
            ).first()
            item = session.get(ItemRow, row.item_id, with_for_update=True)
            if reviewed is not None or item.status == "accepted":
                continue
            row.status = "undone"
            task = session.execute(
                select(TaskRow).where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
            ).scalar_one_or_none()
            if task is not None:
                session.flush()
                # Other labels on the item still count toward its overlap.
                active = session.execute(
                    select(func.count()).where(
                        AnnotationRow.item_id == item.id, AnnotationRow.status == "active"
                    )
                ).scalar_one()
                task.needed = max(overlap - active, 0)
                task.status = "open" if task.needed else "done"
                task.updated_at = utcnow()
            settle_item(session, project=project_row, item=item, task=task)
            append_event(
                session,
                project_id=project_row.id,
                actor=actor,
                action="annotation.undone",
                target=f"item:{item.external_id}",
                before={"annotation": row.id, "label": row.label},
                after={"item_status": item.status},
            )
            withdrawn += 1
        return withdrawn
