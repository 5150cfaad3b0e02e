"""How the team is doing: an annotator's own progress, and every annotator's throughput.

Read-only: nothing here changes state, so nothing is audited. Counts take the human
labels that stand (``undone`` ones excluded); "today" starts at midnight UTC.

Per annotator, beside the throughput: how many of their labels reviewers rejected and
corrected (by the reviews' verdicts), how many items they skipped (label leases closed
as skipped), and how many labels they marked unsure or commented on while labelling
(`flag_and_comment_counts`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.items import LABEL_QUEUE, media_url
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ReviewRow,
    TaskLeaseRow,
    TaskRow,
    UserRow,
    utcnow,
)

__all__ = [
    "AnnotatorProgress",
    "AnnotatorThroughput",
    "RecentLabel",
    "annotator_progress",
    "annotator_throughput",
    "flag_and_comment_counts",
    "recent_labels",
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
    seconds_today : float
        Time on task today: the sum of the time spent on their labels given today.
    labels_per_hour : float or None
        ``done_today`` per hour of ``seconds_today``; None before any timed label today.
    queue_done, queue_total : int
        The project's label queue: tasks done, and tasks in all (the progress bar).
    """

    done_today: int
    done_total: int
    reviewed: int
    accepted: int
    review_agreement: float | None
    seconds_today: float = 0.0
    labels_per_hour: float | None = None
    queue_done: int = 0
    queue_total: int = 0


@dataclass(frozen=True)
class RecentLabel:
    """One of an annotator's recent labels, and whether they may still change it.

    ``changeable`` is False once a reviewer has judged it or the item is accepted.
    """

    annotation_id: int
    item_id: int
    item_external_id: str
    payload: dict[str, Any]
    media_url: str | None
    label: Any
    unsure: bool
    comment: str | None
    created_at: dt.datetime
    reviewed: bool
    changeable: bool


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
        Their labels marked unsure, or with a comment (`flag_and_comment_counts`).
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
        today, spent_ms, timed = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(AnnotationRow.time_spent_ms), 0),
                func.count(AnnotationRow.time_spent_ms),
            ).where(*mine, AnnotationRow.created_at >= midnight)
        ).one()
        queue = dict(
            session.execute(
                select(TaskRow.status, func.count())
                .where(TaskRow.project_id == project.id, TaskRow.queue == LABEL_QUEUE)
                .group_by(TaskRow.status)
            ).all()
        )
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
        seconds_today=round(spent_ms / 1000, 1),
        labels_per_hour=round(timed * 3_600_000 / spent_ms, 1) if spent_ms else None,
        queue_done=queue.get("done", 0),
        queue_total=sum(queue.values()),
    )


def recent_labels(
    db: Database, *, project_id: int, user_id: int, limit: int = 20
) -> list[RecentLabel]:
    """One annotator's standing labels in a project, newest first, at most ``limit``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
        raise ValidationError("limit must be an integer from 1 to 500", field="limit")
    with db.read() as session:
        project = resolve_project(session, project_id)
        rows = session.execute(
            select(AnnotationRow, ItemRow)
            .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
            .where(
                AnnotationRow.project_id == project.id,
                AnnotationRow.user_id == user_id,
                AnnotationRow.source.in_(_HUMAN),
                AnnotationRow.status == "active",
            )
            .order_by(AnnotationRow.id.desc())
            .limit(limit)
        ).all()
        reviewed = set(
            session.execute(
                select(ReviewRow.annotation_id).where(
                    ReviewRow.annotation_id.in_([row.id for row, _ in rows])
                )
            ).scalars()
        )
    return [
        RecentLabel(
            annotation_id=row.id,
            item_id=item.id,
            item_external_id=item.external_id,
            payload=dict(item.payload or {}),
            media_url=media_url(item),
            label=row.label,
            unsure=bool(row.unsure),
            comment=row.comment,
            created_at=row.created_at,
            reviewed=row.id in reviewed,
            changeable=row.id not in reviewed and item.status != "accepted",
        )
        for row, item in rows
    ]


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
    """Per annotator, their standing labels marked unsure (``"flagged"``) and those with a
    comment (``"commented"``): the marks an annotator adds while labelling, without
    skipping."""
    marks = {
        "flagged": AnnotationRow.unsure.is_(True),
        "commented": (AnnotationRow.comment.is_not(None)) & (AnnotationRow.comment != ""),
    }
    counts: dict[str, dict[str, int]] = {}
    for mark, present in marks.items():
        counts[mark] = dict(
            session.execute(
                select(AnnotationRow.actor, func.count())
                .where(
                    AnnotationRow.project_id == project_id,
                    AnnotationRow.source.in_(_HUMAN),
                    AnnotationRow.status != "undone",
                    present,
                )
                .group_by(AnnotationRow.actor)
            ).all()
        )
    return counts
