"""An item's history: every prediction, annotation, review and audit event, in order.

Read-only: nothing here changes state, so nothing is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from labelloop.engine.browse.items import item_in
from labelloop.engine.core.items import media_url
from labelloop.engine.core.labels import model_label
from labelloop.engine.core.project import resolve_project
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    AuditEventRow,
    ModelVersionRow,
    PredictionRow,
    ReviewRow,
    TaskRow,
    UserRow,
)

__all__ = [
    "HistoryAnnotation",
    "HistoryEvent",
    "HistoryPrediction",
    "HistoryReview",
    "ItemHistory",
    "item_history",
]


@dataclass(frozen=True)
class HistoryPrediction:
    model_version: int
    label: Any
    probabilities: dict[str, float]
    score: float
    created_at: dt.datetime
    structure: list[dict[str, Any]] | None = None  # an entity or box model's spans or boxes


@dataclass(frozen=True)
class HistoryAnnotation:
    id: int
    actor: str
    source: str
    label: Any
    status: str
    time_spent_ms: int | None
    guideline_version: int | None
    created_at: dt.datetime
    unsure: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class HistoryReview:
    id: int
    annotation_id: int | None
    reviewer: str
    verdict: str
    corrected_label: Any
    note: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class HistoryEvent:
    seq: int
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    created_at: dt.datetime


@dataclass(frozen=True)
class ItemHistory:
    """An item and everything that happened to it, oldest first in each list."""

    id: int
    project_id: int
    external_id: str
    payload: dict[str, Any]
    media_url: str | None
    meta: dict[str, Any]
    status: str
    final_label: Any
    label_source: str | None
    is_eval: bool
    created_at: dt.datetime
    predictions: tuple[HistoryPrediction, ...]
    annotations: tuple[HistoryAnnotation, ...]
    reviews: tuple[HistoryReview, ...]
    events: tuple[HistoryEvent, ...]


def item_history(db: Database, *, project_id: int, item_id: int) -> ItemHistory:
    """An item with its predictions, annotations, reviews and audit events, oldest first."""
    with db.read() as session:
        project = resolve_project(session, project_id)
        item = item_in(session, project.id, item_id)
        predictions = tuple(
            HistoryPrediction(
                model_version=version,
                label=model_label(row.probabilities or {}, multi_label=project.multi_label),
                probabilities=dict(row.probabilities or {}),
                score=float(row.score),
                created_at=row.created_at,
                structure=row.structure,
            )
            for row, version in session.execute(
                select(PredictionRow, ModelVersionRow.version)
                .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
                .where(PredictionRow.item_id == item.id)
                .order_by(PredictionRow.id)
            )
        )
        annotations = tuple(
            HistoryAnnotation(
                id=row.id,
                actor=row.actor,
                source=row.source,
                label=row.label,
                status=row.status,
                time_spent_ms=row.time_spent_ms,
                guideline_version=row.guideline_version,
                created_at=row.created_at,
                unsure=bool(row.unsure),
                comment=row.comment,
            )
            for row in session.execute(
                select(AnnotationRow)
                .where(AnnotationRow.item_id == item.id)
                .order_by(AnnotationRow.id)
            ).scalars()
        )
        reviews = tuple(
            HistoryReview(
                id=row.id,
                annotation_id=row.annotation_id,
                reviewer=name or "",
                verdict=row.verdict,
                corrected_label=row.corrected_label,
                note=row.note,
                created_at=row.created_at,
            )
            for row, name in session.execute(
                select(ReviewRow, UserRow.name)
                .outerjoin(UserRow, UserRow.id == ReviewRow.reviewer_id)
                .where(ReviewRow.item_id == item.id)
                .order_by(ReviewRow.id)
            )
        )
        task_targets = [
            f"task:{task_id}"
            for task_id in session.execute(
                select(TaskRow.id).where(TaskRow.item_id == item.id)
            ).scalars()
        ]
        events = tuple(
            HistoryEvent(
                seq=row.seq,
                actor=row.actor,
                action=row.action,
                target=row.target,
                before=row.before,
                after=row.after,
                created_at=row.created_at,
            )
            for row in session.execute(
                select(AuditEventRow)
                .where(
                    AuditEventRow.project_id == project.id,
                    AuditEventRow.target.in_([f"item:{item.external_id}", *task_targets]),
                )
                .order_by(AuditEventRow.seq)
            ).scalars()
        )
        return ItemHistory(
            id=item.id,
            project_id=project.id,
            external_id=item.external_id,
            payload=dict(item.payload or {}),
            media_url=media_url(item),
            meta=dict(item.meta or {}),
            status=item.status,
            final_label=item.final_label,
            label_source=item.label_source,
            is_eval=item.is_eval,
            created_at=item.created_at,
            predictions=predictions,
            annotations=annotations,
            reviews=reviews,
            events=events,
        )
