"""Reviewers' feedback to an annotator: their labels a reviewer rejected or corrected.

Rules
-----
1. A user's feedback in a project is every review with verdict ``reject`` or
   ``correct`` of an annotation that user gave, newest first: the reviewer's note, the
   reviewer's label (the correction; none for a plain rejection), the user's own label
   and the item.
2. Feedback is unread until the user has seen it: ``feedback_seen`` keeps, per user and
   project, the newest review id they have seen (review ids grow in the order reviews
   are given), and `mark_feedback_seen` only ever moves it forward.
3. `pulse` is what an open labelling page asks every few seconds: the guideline
   version in force and the unread count, two indexed reads.

Marking feedback seen records what a person has read, not a change to the loop's state,
so it is not audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.core.items import ItemInfo, item_info
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    FeedbackSeenRow,
    ItemRow,
    ProjectRow,
    ReviewRow,
    UserRow,
    utcnow,
)

__all__ = [
    "FEEDBACK_VERDICTS",
    "FeedbackEntry",
    "FeedbackPage",
    "Pulse",
    "mark_feedback_seen",
    "my_feedback",
    "pulse",
    "unread_feedback",
]

FEEDBACK_VERDICTS = ("reject", "correct")
_MAX_LIMIT = 500


@dataclass(frozen=True)
class FeedbackEntry:
    """One review of the user's label that asks them to look again.

    Attributes
    ----------
    review_id : int
    verdict : str
        ``reject`` or ``correct``.
    note : str or None
        The reviewer's note.
    reviewer : str or None
        The reviewer's name (None once their account is gone).
    reviewer_label : object or None
        The reviewer's label: the correction; None for a plain rejection.
    your_label : object
        The label the user gave.
    item : ItemInfo
    reviewed_at : datetime
    unread : bool
        Given after the newest review the user has seen (rule 2).
    """

    review_id: int
    verdict: str
    note: str | None
    reviewer: str | None
    reviewer_label: Any
    your_label: Any
    item: ItemInfo
    reviewed_at: dt.datetime
    unread: bool


@dataclass(frozen=True)
class FeedbackPage:
    """A page of a user's feedback, newest first, with the totals."""

    total: int
    unread: int
    entries: list[FeedbackEntry]


@dataclass(frozen=True)
class Pulse:
    """What an open labelling page needs to hear about (rule 3)."""

    guideline_version: int
    unread_feedback: int


def _feedback_query(project_id: int, user_id: int) -> Select:
    return (
        select(ReviewRow, AnnotationRow.label, ItemRow, UserRow.name)
        .join(AnnotationRow, AnnotationRow.id == ReviewRow.annotation_id)
        .join(ItemRow, ItemRow.id == ReviewRow.item_id)
        .outerjoin(UserRow, UserRow.id == ReviewRow.reviewer_id)
        .where(
            ReviewRow.project_id == project_id,
            ReviewRow.verdict.in_(FEEDBACK_VERDICTS),
            AnnotationRow.user_id == user_id,
        )
    )


def _last_seen(session: Session, project_id: int, user_id: int) -> int:
    seen = session.get(FeedbackSeenRow, (user_id, project_id))
    return 0 if seen is None else seen.last_review_id


def _count(session: Session, project_id: int, user_id: int, after: int) -> int:
    reviews = aliased(ReviewRow)
    return session.execute(
        select(func.count())
        .select_from(reviews)
        .join(AnnotationRow, AnnotationRow.id == reviews.annotation_id)
        .where(
            reviews.project_id == project_id,
            reviews.verdict.in_(FEEDBACK_VERDICTS),
            reviews.id > after,
            AnnotationRow.user_id == user_id,
        )
    ).scalar_one()


def _check_page(limit: Any, offset: Any) -> None:
    for name, value, low in (("limit", limit, 1), ("offset", offset, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationError(f"{name} must be an integer >= {low}", field=name)
    if limit > _MAX_LIMIT:
        raise ValidationError(f"limit must be at most {_MAX_LIMIT}", field="limit")


def my_feedback(
    db: Database, *, project: int | str, user: UserInfo, limit: int = 50, offset: int = 0
) -> FeedbackPage:
    """The reviews of ``user``'s labels that rejected or corrected them (rule 1).

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.
    user : UserInfo
        Whose labels.
    limit, offset : int, optional
        The page: at most ``limit`` (1 to 500) entries after the first ``offset``.

    Returns
    -------
    FeedbackPage
        Newest first; nothing is marked seen (`mark_feedback_seen` does that).
    """
    _check_page(limit, offset)
    with db.read() as session:
        project_id = resolve_project(session, project).id
        seen = _last_seen(session, project_id, user.id)
        rows = session.execute(
            _feedback_query(project_id, user.id)
            .order_by(ReviewRow.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        entries = [
            FeedbackEntry(
                review_id=review.id,
                verdict=review.verdict,
                note=review.note,
                reviewer=reviewer,
                reviewer_label=review.corrected_label if review.verdict == "correct" else None,
                your_label=label,
                item=item_info(item),
                reviewed_at=review.created_at,
                unread=review.id > seen,
            )
            for review, label, item, reviewer in rows
        ]
        return FeedbackPage(
            total=_count(session, project_id, user.id, 0),
            unread=_count(session, project_id, user.id, seen),
            entries=entries,
        )


def unread_feedback(db: Database, *, project: int | str, user: UserInfo) -> int:
    """How many of ``user``'s feedback entries came after the newest they have seen."""
    with db.read() as session:
        project_id = resolve_project(session, project).id
        return _count(session, project_id, user.id, _last_seen(session, project_id, user.id))


def mark_feedback_seen(db: Database, *, project: int | str, user: UserInfo) -> int:
    """Mark all of ``user``'s feedback in the project as seen (rule 2); returns how many
    entries were unread."""
    with db.transaction() as session:
        project_id = resolve_project(session, project).id
        newest = session.execute(
            select(func.max(ReviewRow.id))
            .join(AnnotationRow, AnnotationRow.id == ReviewRow.annotation_id)
            .where(
                ReviewRow.project_id == project_id,
                ReviewRow.verdict.in_(FEEDBACK_VERDICTS),
                AnnotationRow.user_id == user.id,
            )
        ).scalar_one()
        before = _last_seen(session, project_id, user.id)
        if newest is None or newest <= before:
            return 0
        unread = _count(session, project_id, user.id, before)
        # Two pages marking at once both write; the row only ever moves forward.
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        table = FeedbackSeenRow.__table__
        statement = insert(table).values(
            user_id=user.id, project_id=project_id, last_review_id=newest, seen_at=utcnow()
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "project_id"],
                set_={
                    "last_review_id": func.max(table.c.last_review_id, newest)
                    if dialect == "sqlite"
                    else func.greatest(table.c.last_review_id, newest),
                    "seen_at": statement.excluded.seen_at,
                },
            )
        )
        return unread


def pulse(db: Database, *, project_id: int, user: UserInfo) -> Pulse:
    """The guideline version in force and ``user``'s unread feedback count (rule 3)."""
    with db.read() as session:
        version = session.execute(
            select(ProjectRow.guideline_version).where(ProjectRow.id == project_id)
        ).scalar_one_or_none()
        if version is None:
            project_id = resolve_project(session, project_id).id  # raises NotFoundError
        seen = _last_seen(session, project_id, user.id)
        return Pulse(
            guideline_version=int(version or 0),
            unread_feedback=_count(session, project_id, user.id, seen),
        )
