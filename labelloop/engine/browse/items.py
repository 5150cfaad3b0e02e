"""Items for people to look at: the model's guess, and search over the pool.

Read-only: nothing here changes state, so nothing is audited; every function reads in
one `Database.read` block and returns frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from labelloop.engine.core.labels import model_label
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
)

__all__ = [
    "item_in",
    "ITEM_STATUSES",
    "ItemGuess",
    "ItemPage",
    "ItemSummary",
    "model_guess",
    "search_items",
]

ITEM_STATUSES: tuple[str, ...] = ("open", "annotated", "in_review", "accepted")
_MAX_PAGE = 500


@dataclass(frozen=True)
class ItemGuess:
    """The newest model's label for an item and its confidence (its top probability)."""

    item_id: int
    model_version: int
    label: Any
    confidence: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class ItemSummary:
    """One row of the item browser."""

    id: int
    external_id: str
    snippet: str
    status: str
    final_label: Any
    is_eval: bool
    score: float | None


@dataclass(frozen=True)
class ItemPage:
    """A page of search results and how many items matched in all."""

    items: tuple[ItemSummary, ...]
    total: int
    offset: int
    limit: int


def item_in(session: Session, project_id: int, item_id: int) -> ItemRow:
    """The item ``item_id`` of the project (NotFoundError naming both otherwise)."""
    item = session.get(ItemRow, item_id)
    if item is None or item.project_id != project_id:
        raise NotFoundError(f"no item {item_id} in project {project_id}")
    return item


def model_guess(db: Database, *, project_id: int, item_id: int) -> ItemGuess | None:
    """The newest model's guess for an item of the project; None before any prediction."""
    with db.read() as session:
        project = resolve_project(session, project_id)
        item_in(session, project.id, item_id)
        row = session.execute(
            select(PredictionRow, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
            .where(PredictionRow.item_id == item_id)
            .order_by(PredictionRow.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        prediction, version = row
        probabilities = {str(k): float(v) for k, v in (prediction.probabilities or {}).items()}
        label = model_label(probabilities, multi_label=project.multi_label)
    if project.multi_label:
        confidence = min((max(p, 1 - p) for p in probabilities.values()), default=0.0)
    else:
        confidence = max(probabilities.values(), default=0.0)
    return ItemGuess(
        item_id=item_id,
        model_version=version,
        label=label,
        confidence=round(confidence, 4),
        probabilities=probabilities,
    )


# --------------------------------------------------------------------------- search


def _snippet(payload: dict[str, Any], media_ref: str | None) -> str:
    text = payload.get("text")
    if isinstance(text, str):
        return text[:200]
    if media_ref:
        return media_ref[:200]
    return ", ".join(f"{k}={v}" for k, v in list(payload.items())[:6])[:200]


def _check_limit(limit: Any, offset: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {_MAX_PAGE}", field="limit")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("offset must be a non-negative integer", field="offset")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_items(
    db: Database,
    project_id: int,
    *,
    text: str | None = None,
    meta: str | None = None,
    status: str | None = None,
    label: str | None = None,
    annotator: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ItemPage:
    """Search a project's pool for the item browser.

    Parameters
    ----------
    db : Database
    project_id : int
    text : str, optional
        Case-insensitive substring of the item's payload or external id.
    meta : str, optional
        Substring of the item's metadata: ``key=value`` matches that key with a value
        containing ``value``, anything else any key or value.
    status : {"open", "annotated", "in_review", "accepted"}, optional
    label : str, optional
        Items whose final label is (or, multi-label, contains) this label.
    annotator : str, optional
        Items that this user (by name) labelled.
    min_score, max_score : float, optional
        Bounds on the informativeness score of the item's newest prediction; items
        without a prediction are left out when either bound is given.
    limit, offset : int
        The page: at most 500 items.

    Returns
    -------
    ItemPage
        The page (newest prediction score first when a score bound is given, else by id)
        and the number of matching items.
    """
    _check_limit(limit, offset)
    if status is not None and status not in ITEM_STATUSES:
        raise ValidationError(
            f"unknown status {status!r}: use {', '.join(ITEM_STATUSES)}", field="status"
        )
    for name, bound in (("min_score", min_score), ("max_score", max_score)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise ValidationError(f"{name} must be a number", field=name)
    with db.read() as session:
        project = resolve_project(session, project_id)
        latest = (
            select(PredictionRow.score)
            .where(PredictionRow.item_id == ItemRow.id)
            .order_by(PredictionRow.id.desc())
            .limit(1)
            .correlate(ItemRow)
            .scalar_subquery()
        )
        where = [ItemRow.project_id == project.id]
        if text:
            pattern = _like(text.lower())
            where.append(
                or_(
                    func.lower(cast(ItemRow.payload, String)).like(pattern, escape="\\"),
                    func.lower(ItemRow.external_id).like(pattern, escape="\\"),
                )
            )
        if meta:
            key, sep, value = meta.partition("=")
            if sep and key.strip():
                pattern = _like(f'"{key.strip()}": ') + _like(value.strip().lower())[1:]
            else:
                pattern = _like(meta.lower())
            where.append(func.lower(cast(ItemRow.meta, String)).like(pattern, escape="\\"))
        if status:
            where.append(ItemRow.status == status)
        if label:
            where.append(cast(ItemRow.final_label, String).like(_like(f'"{label}"'), escape="\\"))
        if annotator:
            where.append(
                ItemRow.id.in_(
                    select(AnnotationRow.item_id).where(
                        AnnotationRow.project_id == project.id, AnnotationRow.actor == annotator
                    )
                )
            )
        if min_score is not None:
            where.append(latest >= float(min_score))
        if max_score is not None:
            where.append(latest <= float(max_score))
        count = select(func.count()).select_from(ItemRow).where(*where)
        total = session.execute(count).scalar_one()
        by_score = min_score is not None or max_score is not None
        order = (latest.desc(), ItemRow.id) if by_score else (ItemRow.id,)
        rows = session.execute(
            select(ItemRow, latest.label("score"))
            .where(*where)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        ).all()
        items = tuple(
            ItemSummary(
                id=item.id,
                external_id=item.external_id,
                snippet=_snippet(item.payload or {}, item.media_ref),
                status=item.status,
                final_label=item.final_label,
                is_eval=item.is_eval,
                score=None if score is None else round(float(score), 4),
            )
            for item, score in rows
        )
    return ItemPage(items=items, total=total, offset=offset, limit=limit)
