"""The pool as a client model sees it: open items, page by page, for pull-mode scoring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow

__all__ = ["MAX_PAGE", "PoolItem", "open_items"]

MAX_PAGE = 10_000


@dataclass(frozen=True)
class PoolItem:
    """An item without a final label, as sent to a client model."""

    id: int
    external_id: str
    payload: dict[str, Any]


def open_items(
    db: Database, *, project_id: int | str, after_id: int = 0, limit: int = 256
) -> list[PoolItem]:
    """Items still open (no final label) with an id above ``after_id``, by id.

    Walks index ``ix_items_unlabelled`` (project, status, id), so each page costs the
    same however large the pool is.

    Parameters
    ----------
    db : Database
    project_id : int or str
    after_id : int
        The last id of the previous page (0 for the first).
    limit : int
        Page size, 1 to `MAX_PAGE`.
    """
    if isinstance(after_id, bool) or not isinstance(after_id, int) or after_id < 0:
        raise ValidationError("after_id must be a non-negative integer", field="after_id")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")
    with db.read() as session:
        project = resolve_project(session, project_id)
        rows = session.execute(
            select(ItemRow.id, ItemRow.external_id, ItemRow.payload)
            .where(
                ItemRow.project_id == project.id,
                ItemRow.status == "open",
                ItemRow.id > after_id,
            )
            .order_by(ItemRow.id)
            .limit(limit)
        ).all()
    return [PoolItem(id=row.id, external_id=row.external_id, payload=row.payload) for row in rows]
