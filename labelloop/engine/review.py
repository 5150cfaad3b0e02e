"""Review: a reviewer leases an item in review and accepts, rejects or corrects it.

- ``accept``: the final label is confirmed (status ``accepted``). On a tie the reviewer
  names the label they accept (one of the annotators'); annotations that disagree with
  the accepted label are marked rejected.
- ``reject``: the annotations under review are marked rejected and the item goes back
  to the label queue with the reviewer's note as the task's reason (their authors may
  take it again, to fix it).
- ``correct``: the reviewer's label is kept as a new annotation (source ``review``)
  beside the originals and wins (status ``accepted``).

Each verdict adds one ``reviews`` row per annotation under review; for accept and
correct, ``corrected_label`` holds the label the review settled on, so the item's
latest review row says what stands.

Reviewers are not offered items they annotated themselves. Review leases follow
`labelloop.engine.core.leases`, as label leases do; an expired one is offered to the
next reviewer. The item's final label is written by
`labelloop.engine.core.final_label.settle_item`, given the verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import VOTING_SOURCES, latest_prediction, settle_item
from labelloop.engine.core.identity import REVIEW_ROLES, UserInfo, check_user
from labelloop.engine.core.items import (
    LABEL_QUEUE,
    AnnotationInfo,
    ItemInfo,
    annotation_info,
    item_info,
)
from labelloop.engine.core.labels import label_key, model_label
from labelloop.engine.core.leases import (
    check_lease_seconds,
    grant_review_lease,
    lease_length,
    live_review_lease,
    review_lease_free,
)
from labelloop.engine.core.outbox import emit_event, maybe_enqueue_retrain
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ModelVersionRow,
    ReviewRow,
    ReviewTaskRow,
    TaskLeaseRow,
    TaskRow,
    utcnow,
)

__all__ = [
    "VERDICTS",
    "ModelGuess",
    "ReviewOutcome",
    "ReviewTaskInfo",
    "lease_next_review",
    "submit_review",
]

VERDICTS = ("accept", "reject", "correct")
_MAX_NOTE = 5000


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


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review decided."""

    review_task_id: int
    item_id: int
    item_external_id: str
    verdict: str
    item_status: str
    final_label: Any
    review_ids: tuple[int, ...]
    correction_id: int | None


def _under_review(session: Session, item_id: int) -> list[AnnotationRow]:
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
        annotations=tuple(annotation_info(row, item) for row in _under_review(session, item.id)),
        model_guess=_model_guess(session, item.id, multi_label=project.multi_label),
        provisional_label=item.final_label,
        lease_expires_at=task.lease_expires_at,
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


def _check_review_args(verdict: Any, note: Any) -> None:
    if verdict not in VERDICTS:
        raise ValidationError(
            f"unknown verdict {verdict!r}: use accept, reject or correct", field="verdict"
        )
    if note is not None and (not isinstance(note, str) or len(note) > _MAX_NOTE):
        raise ValidationError(
            f"note must be a string of at most {_MAX_NOTE} characters", field="note"
        )


def submit_review(
    db: Database,
    *,
    review_task_id: int,
    user: UserInfo,
    verdict: str,
    label: Any = None,
    labels: Any = None,
    note: str | None = None,
) -> ReviewOutcome:
    """Give a verdict on a leased review.

    Parameters
    ----------
    db : Database
    review_task_id : int
    user : UserInfo
        The reviewer holding the review (an admin or reviewer).
    verdict : {"accept", "reject", "correct"}
    label, labels : optional
        For ``correct``: the right label. For ``accept``: which label is accepted, needed
        only when the annotators tie.
    note : str, optional
        Shown to annotators as the task's reason after a reject.

    Returns
    -------
    ReviewOutcome

    Raises
    ------
    NotFoundError
        No such review task.
    ConflictError
        The review is closed, or leased to someone else (or not leased yet).
    ValidationError
        A bad verdict, a missing or unknown label.
    """
    check_user(user, REVIEW_ROLES, "review annotations")
    _check_review_args(verdict, note)
    with db.transaction() as session:
        task = session.get(ReviewTaskRow, review_task_id, with_for_update=True)
        if task is None:
            raise NotFoundError(f"no review task {review_task_id}")
        if task.status != "open":
            raise ConflictError(f"review task {review_task_id} is {task.status} already")
        if task.assignee_id != user.id:
            raise ConflictError(
                f"review task {review_task_id} is not leased to {user.name!r}: "
                "lease it with reviews/next first"
            )
        project = resolve_project(session, task.project_id)
        item = session.get(ItemRow, task.item_id, with_for_update=True)
        annotations = _under_review(session, item.id)
        label_task = session.execute(
            select(TaskRow)
            .where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
            .with_for_update()
        ).scalar_one_or_none()
        now = utcnow()
        reviews: list[ReviewRow] = []
        correction: AnnotationRow | None = None

        def add_review(row: AnnotationRow | None, kind: str, corrected: Any = None) -> None:
            review = ReviewRow(
                project_id=project.id,
                item_id=item.id,
                annotation_id=None if row is None else row.id,
                review_task_id=task.id,
                reviewer_id=user.id,
                verdict=kind,
                corrected_label=corrected,
                note=note,
                created_at=now,
            )
            session.add(review)
            reviews.append(review)

        if verdict == "accept":
            if label is None and labels is None:
                accepted = item.final_label
                if accepted is None:
                    raise ValidationError(
                        "the annotators disagree: accept one of their labels "
                        "(give label/labels) or correct",
                        field="label",
                    )
            else:
                accepted = validate_label(project, label=label, labels=labels)
                if label_key(accepted) not in {label_key(a.label) for a in annotations}:
                    raise ValidationError(
                        "an accepted label must be one the annotators gave: use correct",
                        field="label",
                    )
            for row in annotations:
                agrees = label_key(row.label) == label_key(accepted)
                # Rejections first, so the review's last row is the standing acceptance.
                if not agrees:
                    row.status = "rejected"
                    add_review(row, "reject")
            for row in annotations:
                if label_key(row.label) == label_key(accepted):
                    add_review(row, "accept", accepted)
            standing = ("accept", accepted)
        elif verdict == "correct":
            corrected = validate_label(project, label=label, labels=labels)
            correction = AnnotationRow(
                project_id=project.id,
                item_id=item.id,
                task_id=None if label_task is None else label_task.id,
                user_id=user.id,
                actor=user.name,
                source="review",
                label=corrected,
                guideline_version=project.guideline_version or None,
                status="active",
                created_at=now,
            )
            session.add(correction)
            session.flush()
            for row in annotations:
                add_review(row, "correct", corrected)
            if not annotations:
                add_review(None, "correct", corrected)
            standing = ("correct", corrected)
        else:
            for row in annotations:
                row.status = "rejected"
                add_review(row, "reject")
            if label_task is not None:
                label_task.needed += max(len(annotations), 1)
                label_task.status = "open"
                label_task.reason = (note or "rejected in review")[:300]
                label_task.updated_at = now
                # The authors may take the item again to fix it.
                for lease in session.execute(
                    select(TaskLeaseRow).where(
                        TaskLeaseRow.task_id == label_task.id,
                        TaskLeaseRow.outcome == "annotated",
                    )
                ).scalars():
                    lease.outcome = "rejected"
            standing = None

        # Done first: settling cancels the item's open review tasks, not this one.
        task.status = "done"
        settle_item(session, project=project, item=item, task=label_task, verdict=standing)
        if verdict == "correct":
            maybe_enqueue_retrain(session, project=project, actor=user.name)
        payload = {
            "review_task_id": task.id,
            "item_id": item.external_id,
            "verdict": verdict,
            "item_status": item.status,
            "final_label": item.final_label,
            "reviewer": user.name,
        }
        emit_event(session, project_id=project.id, event="review.completed", payload=payload)
        append_event(
            session,
            project_id=project.id,
            actor=user.name,
            action="review.submitted",
            target=f"item:{item.external_id}",
            after={**payload, "note": note, "annotations": [a.id for a in annotations]},
        )
        return ReviewOutcome(
            review_task_id=task.id,
            item_id=item.id,
            item_external_id=item.external_id,
            verdict=verdict,
            item_status=item.status,
            final_label=item.final_label,
            review_ids=tuple(r.id for r in reviews),
            correction_id=None if correction is None else correction.id,
        )
