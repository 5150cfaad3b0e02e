"""Verdicts: a reviewer accepts, rejects or corrects the item they hold.

The rules of each verdict are stated in `labelloop.engine.review`; the item's final
label is written by `labelloop.engine.core.final_label.settle_item`, given the verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import settle_item
from labelloop.engine.core.identity import REVIEW_ROLES, UserInfo, check_user
from labelloop.engine.core.items import (
    LABEL_QUEUE,
)
from labelloop.engine.core.labels import label_key
from labelloop.engine.core.outbox import emit_event, maybe_enqueue_retrain
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.engine.review.tasks import under_review
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ProjectRow,
    ReviewRow,
    ReviewTaskRow,
    TaskLeaseRow,
    TaskRow,
    utcnow,
)

__all__ = ["VERDICTS", "ReviewOutcome", "submit_review"]

VERDICTS = ("accept", "reject", "correct")
_MAX_NOTE = 5000


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


def _check_review_args(verdict: Any, note: Any) -> None:
    if verdict not in VERDICTS:
        raise ValidationError(
            f"unknown verdict {verdict!r}: use accept, reject or correct", field="verdict"
        )
    if note is not None and (not isinstance(note, str) or len(note) > _MAX_NOTE):
        raise ValidationError(
            f"note must be a string of at most {_MAX_NOTE} characters", field="note"
        )


class _Verdicts:
    """The three verdicts on one leased review, in the caller's transaction.

    Each adds one ``reviews`` row per annotation under review (``reviews`` keeps them in
    order); the caller then settles the item with the verdict that stands.
    """

    def __init__(
        self,
        session: Session,
        project: ProjectRow,
        item: ItemRow,
        task: ReviewTaskRow,
        user: UserInfo,
        note: str | None,
        annotations: list[AnnotationRow],
        label_task: TaskRow | None,
        now: dt.datetime,
    ) -> None:
        self.session, self.project, self.item, self.task = session, project, item, task
        self.user, self.note, self.now = user, note, now
        self.annotations, self.label_task = annotations, label_task
        self.reviews: list[ReviewRow] = []

    def _add(self, row: AnnotationRow | None, kind: str, corrected: Any = None) -> None:
        review = ReviewRow(
            project_id=self.project.id,
            item_id=self.item.id,
            annotation_id=None if row is None else row.id,
            review_task_id=self.task.id,
            reviewer_id=self.user.id,
            verdict=kind,
            corrected_label=corrected,
            note=self.note,
            created_at=self.now,
        )
        self.session.add(review)
        self.reviews.append(review)

    def accept(self, label: Any, labels: Any) -> tuple[str, Any]:
        """Accept the provisional label, or on a tie the one named; the others are rejected."""
        if label is None and labels is None:
            accepted = self.item.final_label
            if accepted is None:
                raise ValidationError(
                    "the annotators disagree: accept one of their labels "
                    "(give label/labels) or correct",
                    field="label",
                )
        else:
            accepted = validate_label(
                self.project, label=label, labels=labels, payload=self.item.payload
            )
            if label_key(accepted) not in {label_key(a.label) for a in self.annotations}:
                raise ValidationError(
                    "an accepted label must be one the annotators gave: use correct",
                    field="label",
                )
        agree = [label_key(row.label) == label_key(accepted) for row in self.annotations]
        # Rejections first, so the review's last row is the standing acceptance.
        for row, agrees in zip(self.annotations, agree, strict=True):
            if not agrees:
                row.status = "rejected"
                self._add(row, "reject")
        for row, agrees in zip(self.annotations, agree, strict=True):
            if agrees:
                self._add(row, "accept", accepted)
        return "accept", accepted

    def correct(self, label: Any, labels: Any) -> AnnotationRow:
        """Keep the reviewer's label as a new annotation (source ``review``); it wins."""
        corrected = validate_label(
            self.project, label=label, labels=labels, payload=self.item.payload
        )
        correction = AnnotationRow(
            project_id=self.project.id,
            item_id=self.item.id,
            task_id=None if self.label_task is None else self.label_task.id,
            user_id=self.user.id,
            actor=self.user.name,
            source="review",
            label=corrected,
            guideline_version=self.project.guideline_version or None,
            status="active",
            created_at=self.now,
        )
        self.session.add(correction)
        self.session.flush()
        for row in self.annotations:
            self._add(row, "correct", corrected)
        if not self.annotations:
            self._add(None, "correct", corrected)
        return correction

    def reject(self) -> None:
        """Reject the annotations; the item goes back to the label queue for their authors."""
        for row in self.annotations:
            row.status = "rejected"
            self._add(row, "reject")
        task = self.label_task
        if task is None:
            return
        task.needed += max(len(self.annotations), 1)
        task.status = "open"
        task.reason = (self.note or "rejected in review")[:300]
        task.updated_at = self.now
        # The authors may take the item again to fix it.
        for lease in self.session.execute(
            select(TaskLeaseRow).where(
                TaskLeaseRow.task_id == task.id, TaskLeaseRow.outcome == "annotated"
            )
        ).scalars():
            lease.outcome = "rejected"


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
        annotations = under_review(session, item.id)
        label_task = session.execute(
            select(TaskRow)
            .where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
            .with_for_update()
        ).scalar_one_or_none()
        verdicts = _Verdicts(
            session, project, item, task, user, note, annotations, label_task, utcnow()
        )
        correction: AnnotationRow | None = None
        if verdict == "accept":
            standing = verdicts.accept(label, labels)
        elif verdict == "correct":
            correction = verdicts.correct(label, labels)
            standing = ("correct", correction.label)
        else:
            verdicts.reject()
            standing = None
        reviews = verdicts.reviews

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
