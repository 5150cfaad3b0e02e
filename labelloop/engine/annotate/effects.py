"""What every new label sets off: the retrain check, the webhook event, the audit event.

A label on a spot-checked auto-labelled item also re-measures the auto-labels, which
may pause auto-labelling (`labelloop.engine.core.auto_labels`, rule 3); with the
``auto_label`` setting off that costs no statement.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.auto_labels import auto_labelling_on, check_spot_checks
from labelloop.engine.core.outbox import emit_event, maybe_enqueue_retrain
from labelloop.store.audit import append_event
from labelloop.store.tables import (
    AnnotationRow,
    AutoLabelRow,
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
    if auto_labelling_on(project) and _spot_checked(session, item.id):
        check_spot_checks(session, project, actor=actor)
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


def _spot_checked(session: Session, item_id: int) -> bool:
    return (
        session.execute(
            select(AutoLabelRow.id)
            .where(AutoLabelRow.item_id == item_id, AutoLabelRow.spot_check.is_(True))
            .limit(1)
        ).first()
        is not None
    )
