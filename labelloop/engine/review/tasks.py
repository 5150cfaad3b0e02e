"""Review tasks: the next item in review leased to a reviewer, with what they need to judge.

Reviewers are not offered items they annotated themselves; the oldest open review comes
first. Review leases follow `labelloop.engine.core.leases`, as label leases do: an
expired one is offered to the next reviewer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import VOTING_SOURCES, box_disagreement, latest_prediction
from labelloop.engine.core.identity import REVIEW_ROLES, UserInfo, check_user
from labelloop.engine.core.items import (
    AnnotationInfo,
    ItemInfo,
    annotation_info,
    item_info,
)
from labelloop.engine.core.labels import model_label
from labelloop.engine.core.leases import (
    check_lease_seconds,
    grant_review_lease,
    lease_length,
    live_review_lease,
    review_lease_free,
)
from labelloop.engine.core.project import resolve_project
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ModelVersionRow,
    ReviewTaskRow,
    utcnow,
)

__all__ = ["ModelGuess", "ReviewTaskInfo", "lease_next_review", "under_review"]


@dataclass(frozen=True)
class ModelGuess:
    """The latest prediction for an item: which model, its label and probabilities."""

    model_version: int
    model_name: str
    label: Any
    probabilities: dict[str, float]


@dataclass(frozen=True)
class ReviewTaskInfo:
    """An item leased to a reviewer, with the annotations under review."""

    id: int
    project_id: int
    item: ItemInfo
    reason: str
    annotations: tuple[AnnotationInfo, ...]
    model_guess: ModelGuess | None
    provisional_label: Any
    lease_expires_at: dt.datetime
    #: A box project's boxes the annotators did not agree on, each named (reason
    #: ``boxes_disagree``); empty otherwise.
    disagreement: tuple[str, ...] = ()


def under_review(session: Session, item_id: int) -> list[AnnotationRow]:
    return list(
        session.execute(
            select(AnnotationRow)
            .where(
                AnnotationRow.item_id == item_id,
                AnnotationRow.status == "active",
                AnnotationRow.source.in_(VOTING_SOURCES),
            )
            .order_by(AnnotationRow.id)
        ).scalars()
    )


def _model_guess(session: Session, item_id: int, *, multi_label: bool) -> ModelGuess | None:
    prediction = latest_prediction(session, item_id)
    if prediction is None:
        return None
    version = session.get(ModelVersionRow, prediction.model_version_id)
    return ModelGuess(
        model_version=version.version,
        model_name=version.name,
        label=model_label(prediction.probabilities, multi_label=multi_label),
        probabilities=dict(prediction.probabilities),
    )


def _review_info(session: Session, task: ReviewTaskRow) -> ReviewTaskInfo:
    item = session.get(ItemRow, task.item_id)
    project = resolve_project(session, task.project_id)
    return ReviewTaskInfo(
        id=task.id,
        project_id=task.project_id,
        item=item_info(item),
        reason=task.reason,
        annotations=tuple(annotation_info(row, item) for row in under_review(session, item.id)),
        model_guess=_model_guess(session, item.id, multi_label=project.multi_label),
        provisional_label=item.final_label,
        lease_expires_at=task.lease_expires_at,
        disagreement=tuple(box_disagreement(session, project, item.id)),
    )


def lease_next_review(
    db: Database, *, project_id: int, user: UserInfo, lease_seconds: int | None = None
) -> ReviewTaskInfo | None:
    """Lease the oldest open review of the project to a reviewer (None when none is open).

    A reviewer who holds a live review lease in the project gets it back. The lease
    follows `labelloop.engine.core.leases`: it lasts ``lease_seconds`` when given (the
    server's ``--lease-seconds``), else the project's ``lease_seconds`` setting.
    """
    check_user(user, REVIEW_ROLES, "review annotations")
    check_lease_seconds(lease_seconds)
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        seconds = lease_length(project, lease_seconds)
        now = utcnow()
        held = session.execute(
            select(ReviewTaskRow)
            .where(
                ReviewTaskRow.project_id == project.id,
                ReviewTaskRow.status == "open",
                ReviewTaskRow.assignee_id == user.id,
                live_review_lease(now),
            )
            .order_by(ReviewTaskRow.id)
            .limit(1)
        ).scalar_one_or_none()
        if held is not None:
            return _review_info(session, held)
        own = exists().where(
            AnnotationRow.item_id == ReviewTaskRow.item_id,
            AnnotationRow.user_id == user.id,
            AnnotationRow.status == "active",
        )
        query = (
            select(ReviewTaskRow)
            .where(
                ReviewTaskRow.project_id == project.id,
                ReviewTaskRow.status == "open",
                review_lease_free(now),
                ~own,
            )
            .order_by(ReviewTaskRow.id)
            .limit(1)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=ReviewTaskRow)
        task = session.execute(query).scalar_one_or_none()
        if task is None:
            return None
        grant_review_lease(session, project=project, task=task, user=user, now=now, seconds=seconds)
        return _review_info(session, task)
