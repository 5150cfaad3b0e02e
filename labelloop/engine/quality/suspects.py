"""The suspect queue: labels a round found likely wrong, most suspect first, with the
reviewers' confirmation rate beside them.

Rules
-----
1. The queue lists a project's ``open`` suspects by cleanlab's quality score, lowest
   (most likely wrong) first, then by id.
2. Precision at k is measured on suspects a reviewer ruled on (``confirmed`` or
   ``cleared``): among those whose rank in their round was at most k, the share
   confirmed. ``k`` of None is every ruled suspect: the confirmation rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, LabelSuspectRow

__all__ = [
    "PRECISION_AT",
    "PrecisionAtK",
    "SuspectInfo",
    "SuspectList",
    "SuspectSummary",
    "list_suspects",
    "suspect_info",
]

PRECISION_AT: tuple[int | None, ...] = (10, 50, 100, None)
_MAX_LIMIT = 1000


@dataclass(frozen=True)
class SuspectInfo:
    """One suspect label."""

    id: int
    item_id: int
    item_external_id: str
    round_number: int
    given_label: Any
    suggested_label: Any
    quality: float
    rank: int
    status: str
    corrected_label: Any
    created_at: dt.datetime
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class PrecisionAtK:
    """Reviewers' confirmation rate among the ruled suspects ranked at most ``k``."""

    k: int | None
    ruled: int
    confirmed: int
    precision: float | None  # confirmed / ruled, None before any ruling


@dataclass(frozen=True)
class SuspectSummary:
    """Counts of a project's suspects by status, and precision at k (rule 2)."""

    open: int
    confirmed: int
    cleared: int
    dropped: int
    precision_at: tuple[PrecisionAtK, ...]


@dataclass(frozen=True)
class SuspectList:
    """A page of the suspect queue and the project's summary."""

    project_id: int
    summary: SuspectSummary
    suspects: tuple[SuspectInfo, ...]


def suspect_info(row: LabelSuspectRow, external_id: str) -> SuspectInfo:
    """A stored suspect as the engine hands it out."""
    return SuspectInfo(
        id=row.id,
        item_id=row.item_id,
        item_external_id=external_id,
        round_number=row.round_number,
        given_label=row.given_label,
        suggested_label=row.suggested_label,
        quality=row.quality,
        rank=row.rank,
        status=row.status,
        corrected_label=row.corrected_label,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


def _summary(session: Any, project_id: int) -> SuspectSummary:
    counts = dict(
        session.execute(
            select(LabelSuspectRow.status, func.count())
            .where(LabelSuspectRow.project_id == project_id)
            .group_by(LabelSuspectRow.status)
        ).all()
    )
    confirmed = func.sum(case((LabelSuspectRow.status == "confirmed", 1), else_=0))
    ruled = LabelSuspectRow.status.in_(("confirmed", "cleared"))
    precision = []
    for k in PRECISION_AT:
        query = select(func.count(), confirmed).where(
            LabelSuspectRow.project_id == project_id, ruled
        )
        if k is not None:
            query = query.where(LabelSuspectRow.rank <= k)
        n_ruled, n_confirmed = session.execute(query).one()
        n_confirmed = int(n_confirmed or 0)
        precision.append(
            PrecisionAtK(
                k=k,
                ruled=int(n_ruled),
                confirmed=n_confirmed,
                precision=n_confirmed / n_ruled if n_ruled else None,
            )
        )
    return SuspectSummary(
        open=int(counts.get("open", 0)),
        confirmed=int(counts.get("confirmed", 0)),
        cleared=int(counts.get("cleared", 0)),
        dropped=int(counts.get("dropped", 0)),
        precision_at=tuple(precision),
    )


def list_suspects(
    db: Database, *, project: int | str, limit: int = 50, offset: int = 0
) -> SuspectList:
    """The open suspects of a project, most suspect first, with the summary (rules 1, 2).

    Parameters
    ----------
    db : Database
    project : int or str
    limit : int
        At most this many suspects (1 to 1000).
    offset : int
        Skip this many, for paging.

    Returns
    -------
    SuspectList

    Raises
    ------
    NotFoundError
        No such project.
    ValidationError
        ``limit`` or ``offset`` out of range.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
        raise ValidationError(f"limit must be an int from 1 to {_MAX_LIMIT}", field="limit")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("offset must be an int >= 0", field="offset")
    with db.read() as session:
        proj = resolve_project(session, project)
        rows = session.execute(
            select(LabelSuspectRow, ItemRow.external_id)
            .join(ItemRow, ItemRow.id == LabelSuspectRow.item_id)
            .where(LabelSuspectRow.project_id == proj.id, LabelSuspectRow.status == "open")
            .order_by(LabelSuspectRow.quality, LabelSuspectRow.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return SuspectList(
            project_id=proj.id,
            summary=_summary(session, proj.id),
            suspects=tuple(suspect_info(row, external_id) for row, external_id in rows),
        )
