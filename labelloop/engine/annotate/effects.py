"""What every new label sets off: the retrain check, the webhook event, the audit event."""

from __future__ import annotations

from sqlalchemy.orm import Session

from labelloop.engine.core.outbox import emit_event, maybe_enqueue_retrain
from labelloop.store.audit import append_event
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ProjectRow,
)

__all__ = ["after_label"]


def after_label(
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
