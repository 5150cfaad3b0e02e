"""Items for people to look at: the model's guess, and search over the pool.

Read-only: nothing here changes state, so nothing is audited; every function reads in
one `Database.read` block and returns frozen dataclasses.

Rules
-----
1. ``sort`` names one column of the browser (`ITEM_SORTS`), ``-`` in front for
   descending; ties fall back to the item id. Items without a score sort after those
   with one, in either direction.
2. ``skipped`` keeps the items some annotator skipped (a label lease closed as
   ``skipped``); every row of a page carries its skips' reasons, oldest first.
3. An image project's rows carry the media URL, for a thumbnail; other rows a snippet.
4. An item's tokens are the default tokenizer's (`labelloop.ner.tokenize`) over its
   ``payload.text``: the same tokens the CoNLL export and the entity model use, so a span
   the label page snaps to tokens is one those accept. An item without text has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from labelloop.engine.core.items import media_url
from labelloop.engine.core.labels import model_label
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.ner import tokenize
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    TaskLeaseRow,
    UserRow,
)

__all__ = [
    "item_in",
    "ITEM_SORTS",
    "ITEM_STATUSES",
    "SkipNote",
    "ItemGuess",
    "ItemPage",
    "ItemTokens",
    "ItemSummary",
    "item_tokens",
    "model_guess",
    "search_items",
]

ITEM_STATUSES: tuple[str, ...] = ("open", "annotated", "in_review", "accepted")
ITEM_SORTS: tuple[str, ...] = ("id", "external_id", "status", "label", "score", "skips")
_MAX_PAGE = 500


@dataclass(frozen=True)
class SkipNote:
    """One skip of an item: who skipped it and the reason they gave (None: none given)."""

    user: str | None
    reason: str | None


@dataclass(frozen=True)
class ItemGuess:
    """The newest model's label for an item and its confidence (its top probability).

    ``structure`` is what the model drew on an entity or box item (its spans or boxes,
    each with a score), to be pre-drawn for the annotator; None on whole-item projects.
    """

    item_id: int
    model_version: int
    label: Any
    confidence: float
    probabilities: dict[str, float]
    structure: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ItemTokens:
    """An item's text and its tokens as ``[start, end)`` character offsets, in order."""

    item_id: int
    text: str
    tokens: list[tuple[int, int]]


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
    media_url: str | None = None
    skips: tuple[SkipNote, ...] = ()


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
        structure = prediction.structure
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
        structure=structure,
    )


def item_tokens(db: Database, *, project_id: int, item_id: int) -> ItemTokens:
    """The tokens of an item of the project (rule 4), for the span editor of the web UI.

    Examples
    --------
    >>> item_tokens(db, project_id=1, item_id=7).tokens  # doctest: +SKIP
    [(0, 5), (6, 11)]
    """
    with db.read() as session:
        item = item_in(session, resolve_project(session, project_id).id, item_id)
        text = (item.payload or {}).get("text")
    if not isinstance(text, str):
        return ItemTokens(item_id=item_id, text="", tokens=[])
    return ItemTokens(
        item_id=item_id,
        text=text,
        tokens=[(token.start, token.end) for token in tokenize(text)],
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


def _check_sort(sort: Any) -> tuple[bool, str | None]:
    """(descending, column) of a ``sort`` argument (rule 1)."""
    if sort is None or sort == "":
        return False, None
    if not isinstance(sort, str) or sort.lstrip("-") not in ITEM_SORTS:
        raise ValidationError(
            f"unknown sort {sort!r}: use one of {', '.join(ITEM_SORTS)}, '-' in front "
            "for descending",
            field="sort",
        )
    return sort.startswith("-"), sort.lstrip("-")


def _skip_notes(session: Session, item_ids: list[int]) -> dict[int, tuple[SkipNote, ...]]:
    """Rule 2: each item's skips, oldest first."""
    if not item_ids:
        return {}
    notes: dict[int, list[SkipNote]] = {}
    for item_id, name, reason in session.execute(
        select(TaskLeaseRow.item_id, UserRow.name, TaskLeaseRow.skip_reason)
        .outerjoin(UserRow, UserRow.id == TaskLeaseRow.user_id)
        .where(TaskLeaseRow.item_id.in_(item_ids), TaskLeaseRow.outcome == "skipped")
        .order_by(TaskLeaseRow.id)
    ):
        notes.setdefault(item_id, []).append(SkipNote(user=name, reason=reason))
    return {item_id: tuple(found) for item_id, found in notes.items()}


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
    skipped: bool = False,
    sort: str | None = None,
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
    skipped : bool
        Only items some annotator skipped (rule 2).
    sort : str, optional
        A column of `ITEM_SORTS`, ``-`` in front for descending (rule 1); default:
        score first when a score bound is given, else by id.
    limit, offset : int
        The page: at most 500 items.

    Returns
    -------
    ItemPage
        The page (newest prediction score first when a score bound is given, else by id)
        and the number of matching items.
    """
    _check_limit(limit, offset)
    descending, column = _check_sort(sort)
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
        skips = (
            select(func.count())
            .where(TaskLeaseRow.item_id == ItemRow.id, TaskLeaseRow.outcome == "skipped")
            .correlate(ItemRow)
            .scalar_subquery()
        )
        if skipped:
            where.append(skips > 0)
        if min_score is not None:
            where.append(latest >= float(min_score))
        if max_score is not None:
            where.append(latest <= float(max_score))
        count = select(func.count()).select_from(ItemRow).where(*where)
        total = session.execute(count).scalar_one()
        if column is None and (min_score is not None or max_score is not None):
            descending, column = True, "score"
        keys = {
            "id": ItemRow.id,
            "external_id": ItemRow.external_id,
            "status": ItemRow.status,
            "label": cast(ItemRow.final_label, String),
            "score": latest,
            "skips": skips,
        }
        key = keys[column or "id"]
        order = [key.desc() if descending else key.asc(), ItemRow.id]
        if column in ("score", "label"):
            order.insert(0, key.is_(None))
        rows = session.execute(
            select(ItemRow, latest.label("score"))
            .where(*where)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        ).all()
        notes = _skip_notes(session, [item.id for item, _ in rows])
        items = tuple(
            ItemSummary(
                id=item.id,
                external_id=item.external_id,
                snippet=_snippet(item.payload or {}, item.media_ref),
                status=item.status,
                final_label=item.final_label,
                is_eval=item.is_eval,
                score=None if score is None else round(float(score), 4),
                media_url=media_url(item) if project.task_type == "image" else None,
                skips=notes.get(item.id, ()),
            )
            for item, score in rows
        )
    return ItemPage(items=items, total=total, offset=offset, limit=limit)
