"""The outbox: what a change sends on, written in the change's own transaction.

Two kinds of message leave a committed change: webhook deliveries (one row per
subscribed webhook, sent later by `labelloop.engine.webhooks.deliver_due`) and jobs
(a ``jobs`` row, run later by the job worker: a retrain, or the scoring of items
imported after a round). Both are rows added by the caller's
transaction, so a message exists exactly when its change commits.

Rules
-----
1. `emit_event` queues an event from `WEBHOOK_EVENTS` for every active webhook of the
   project subscribed to it; the body is ``{"event", "project_id", "created_at",
   "data"}`` as sorted JSON.
2. A project has at most one queued job of each kind: asking again returns the queued one.
3. `maybe_enqueue_retrain` queues one when ``retrain_every`` human or reviewer labels
   came in since the latest round, unless a retrain is queued or running already.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.settings import project_setting
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.tables import (
    AnnotationRow,
    JobRow,
    ProjectRow,
    RoundRow,
    WebhookDeliveryRow,
    WebhookRow,
    utcnow,
)

__all__ = [
    "PENDING_JOB_STATUSES",
    "WEBHOOK_EVENTS",
    "add_job",
    "add_retrain",
    "emit_event",
    "maybe_enqueue_retrain",
    "queued_job",
    "queued_retrain",
]

WEBHOOK_EVENTS = (
    "annotation.created",
    "review.completed",
    "round.completed",
    "batch.ready",
    "auto_label.paused",
)
PENDING_JOB_STATUSES = ("queued", "running")


def emit_event(session: Session, *, project_id: int, event: str, payload: dict[str, Any]) -> int:
    """Queue ``event`` for every active webhook of the project subscribed to it.

    Runs in the caller's transaction (never commits). Returns the number of deliveries.
    """
    if event not in WEBHOOK_EVENTS:
        raise ValidationError(f"unknown event {event!r}", field="event")
    hooks = session.execute(
        select(WebhookRow).where(WebhookRow.project_id == project_id, WebhookRow.is_active)
    ).scalars()
    now = utcnow()
    count = 0
    for hook in hooks:
        if event not in hook.events:
            continue
        body = json.dumps(
            {
                "event": event,
                "project_id": project_id,
                "created_at": now.isoformat(),
                "data": payload,
            },
            sort_keys=True,
            default=str,
        )
        session.add(
            WebhookDeliveryRow(webhook_id=hook.id, event=event, body=body, next_attempt_at=now)
        )
        count += 1
    return count


def queued_job(session: Session, project_id: int, kind: str) -> JobRow | None:
    """The project's queued job of ``kind``, if any (rule 2)."""
    return session.execute(
        select(JobRow)
        .where(JobRow.status == "queued", JobRow.project_id == project_id, JobRow.kind == kind)
        .limit(1)
    ).scalar_one_or_none()


def add_job(session: Session, *, project_id: int, kind: str, actor: str, why: str) -> JobRow:
    """Queue a job (audited as ``job.queued``), or return the one of its kind queued already."""
    job = queued_job(session, project_id, kind)
    if job is not None:
        return job
    job = JobRow(
        project_id=project_id, kind=kind, status="queued", payload={"actor": actor, "why": why}
    )
    session.add(job)
    session.flush()
    append_event(
        session,
        project_id=project_id,
        actor=actor,
        action="job.queued",
        target=f"job:{job.id}",
        after={"kind": kind, "why": why},
    )
    return job


def queued_retrain(session: Session, project_id: int) -> JobRow | None:
    """The project's queued retrain job, if any (rule 2)."""
    return queued_job(session, project_id, "retrain")


def add_retrain(session: Session, *, project_id: int, actor: str, why: str) -> JobRow:
    """Queue a retrain job (audited as ``job.queued``), unless one is queued (rule 2)."""
    return add_job(session, project_id=project_id, kind="retrain", actor=actor, why=why)


def maybe_enqueue_retrain(session: Session, *, project: ProjectRow, actor: str) -> bool:
    """Queue a retrain when ``retrain_every`` new labels came in since the last round.

    Runs in the caller's transaction. Counts human and reviewer labels made after the
    latest round; does nothing when ``retrain_every`` is 0/None or a retrain is pending.
    """
    every = project_setting(project, "retrain_every")
    if not every:
        return False
    pending = session.execute(
        select(JobRow.id)
        .where(
            JobRow.status.in_(PENDING_JOB_STATUSES),
            JobRow.project_id == project.id,
            JobRow.kind == "retrain",
        )
        .limit(1)
    ).first()
    if pending is not None:
        return False
    since = session.execute(
        select(func.max(RoundRow.created_at)).where(RoundRow.project_id == project.id)
    ).scalar_one()
    query = select(func.count()).where(
        AnnotationRow.project_id == project.id,
        AnnotationRow.status == "active",
        AnnotationRow.source.in_(("human", "review")),
    )
    if since is not None:
        query = query.where(AnnotationRow.created_at > since)
    if session.execute(query).scalar_one() < every:
        return False
    add_retrain(session, project_id=project.id, actor=actor, why=f"{every} new labels")
    return True
