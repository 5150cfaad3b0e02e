"""How the team is doing: an annotator's own progress, and every annotator's throughput.

Read-only: nothing here changes state, so nothing is audited. Counts take the human
labels that stand (``undone`` ones excluded); "today" starts at midnight UTC.

Per annotator, beside the throughput: how many of their labels reviewers rejected and
corrected (by the reviews' verdicts), how many items they skipped (label leases closed
as skipped), and how many labels they flagged unsure or commented on, once annotations
carry those marks (`flag_and_comment_counts`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ReviewRow,
    TaskLeaseRow,
    UserRow,
    utcnow,
)

__all__ = [
    "AnnotatorProgress",
    "AnnotatorThroughput",
    "annotator_progress",
    "annotator_throughput",
    "flag_and_comment_counts",
]

_HUMAN = ("human",)


@dataclass(frozen=True)
class AnnotatorProgress:
    """One annotator's progress in a project.

    Attributes
    ----------
    done_today : int
        Their standing labels given since midnight UTC.
    done_total : int
        Their standing labels in the project.
    reviewed : int
        Their labels a reviewer has judged.
    accepted : int
        ... of which the reviewer accepted.
    review_agreement : float or None
        ``accepted / reviewed``; None before the first review.
    """

    done_today: int
    done_total: int
    reviewed: int
    accepted: int
    review_agreement: float | None


@dataclass(frozen=True)
class AnnotatorThroughput:
    """Labels per annotator: today, in the last 7 days, in all, the median time per label,
    and what reviews and skips say of their work.

    Attributes
    ----------
    rejected, corrected : int
        Their labels a reviewer rejected, or corrected to another label.
    skipped : int
        Items they skipped.
    flagged, commented : int or None
        Their labels marked unsure, or with a comment; None while annotations carry no
        such marks (`flag_and_comment_counts`).
    """

    name: str
    today: int
    last_7_days: int
    total: int
    median_seconds: float | None
    rejected: int = 0
    corrected: int = 0
    skipped: int = 0
    flagged: int | None = None
    commented: int | None = None


def _midnight(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def annotator_progress(
    db: Database, *, project_id: int, user_id: int, now: dt.datetime | None = None
) -> AnnotatorProgress:
    """Labels done today and in all by one annotator, and how often reviewers agreed.

    Parameters
    ----------
    db : Database
    project_id : int
    user_id : int
    now : datetime, optional
        The moment "today" is taken from (UTC); default: now.
    """
    if now is not None and now.tzinfo is None:
        raise ValidationError("now must be timezone-aware", field="now")
    midnight = _midnight(now or utcnow())
    with db.read() as session:
        project = resolve_project(session, project_id)
        mine = (
            AnnotationRow.project_id == project.id,
            AnnotationRow.user_id == user_id,
            AnnotationRow.source.in_(_HUMAN),
            AnnotationRow.status != "undone",
        )
        total = session.execute(select(func.count()).where(*mine)).scalar_one()
        today = session.execute(
            select(func.count()).where(*mine, AnnotationRow.created_at >= midnight)
        ).scalar_one()
        verdicts = Counter(
            session.execute(
                select(ReviewRow.verdict)
                .join(AnnotationRow, AnnotationRow.id == ReviewRow.annotation_id)
                .where(*mine)
            ).scalars()
        )
    reviewed = sum(verdicts.values())
    return AnnotatorProgress(
        done_today=today,
        done_total=total,
        reviewed=reviewed,
        accepted=verdicts["accept"],
        review_agreement=round(verdicts["accept"] / reviewed, 3) if reviewed else None,
    )


def annotator_throughput(
    db: Database, project_id: int, *, now: dt.datetime | None = None
) -> list[AnnotatorThroughput]:
    """Per annotator (by name): labels today, in the last 7 days, in all; median time per label."""
    now = now or utcnow()
    midnight, week = _midnight(now), now - dt.timedelta(days=7)
    with db.read() as session:
        project = resolve_project(session, project_id)
        rows = session.execute(
            select(AnnotationRow.actor, AnnotationRow.created_at, AnnotationRow.time_spent_ms)
            .where(
                AnnotationRow.project_id == project.id,
                AnnotationRow.source.in_(_HUMAN),
                AnnotationRow.status != "undone",
            )
            .order_by(AnnotationRow.id)
        ).all()
        verdicts = Counter(
            session.execute(
                select(AnnotationRow.actor, ReviewRow.verdict)
                .join(AnnotationRow, AnnotationRow.id == ReviewRow.annotation_id)
                .where(ReviewRow.project_id == project.id, AnnotationRow.source.in_(_HUMAN))
            ).all()
        )
        skips = dict(
            session.execute(
                select(UserRow.name, func.count())
                .select_from(TaskLeaseRow)
                .join(UserRow, UserRow.id == TaskLeaseRow.user_id)
                .where(TaskLeaseRow.project_id == project.id, TaskLeaseRow.outcome == "skipped")
                .group_by(UserRow.name)
            ).all()
        )
        marks = flag_and_comment_counts(session, project.id)
    per: dict[str, list[tuple[dt.datetime, int | None]]] = defaultdict(list)
    for actor, created_at, spent in rows:
        per[actor].append((created_at, spent))
    for name in skips:
        per.setdefault(name, [])
    found = []
    for name in sorted(per):
        times = sorted(spent for _, spent in per[name] if spent is not None)
        median = times[len(times) // 2] / 1000 if times else None
        found.append(
            AnnotatorThroughput(
                name=name,
                today=sum(moment >= midnight for moment, _ in per[name]),
                last_7_days=sum(moment >= week for moment, _ in per[name]),
                total=len(per[name]),
                median_seconds=round(median, 1) if median is not None else None,
                rejected=verdicts[(name, "reject")],
                corrected=verdicts[(name, "correct")],
                skipped=skips.get(name, 0),
                flagged=marks["flagged"].get(name, 0) if "flagged" in marks else None,
                commented=marks["commented"].get(name, 0) if "commented" in marks else None,
            )
        )
    return found


def flag_and_comment_counts(session: Session, project_id: int) -> dict[str, dict[str, int]]:
    """Per annotator, their standing labels flagged unsure (``"flagged"``) and those with a
    comment (``"commented"``), for each of the two marks annotations carry.

    Reads the annotations' ``flagged`` and ``comment`` columns where the store has them;
    a mark the store does not have is absent from the answer (the dashboard then shows
    no such column).
    """
    columns = AnnotationRow.__table__.c
    marks = {"flagged": "flagged", "commented": "comment"}
    counts: dict[str, dict[str, int]] = {}
    for mark, column in marks.items():
        if column not in columns:
            continue
        present = columns[column].is_(True) if mark == "flagged" else columns[column] != ""
        counts[mark] = dict(
            session.execute(
                select(AnnotationRow.actor, func.count())
                .where(
                    AnnotationRow.project_id == project_id,
                    AnnotationRow.source.in_(_HUMAN),
                    AnnotationRow.status != "undone",
                    columns[column].is_not(None),
                    present,
                )
                .group_by(AnnotationRow.actor)
            ).all()
        )
    return counts
