"""Items and their annotations as the engine hands them out, and the label queue's name.

Rules
-----
1. A task of the label queue (`LABEL_QUEUE`) asks for an item's label; review tasks
   live in their own table.
2. An item's media is fetched from its URL when ``media_ref`` is one, otherwise from the
   service's media route, which serves files under the project's ``media_root`` only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from labelloop.store.tables import AnnotationRow, ItemRow

__all__ = [
    "LABEL_QUEUE",
    "AnnotationInfo",
    "ItemInfo",
    "annotation_info",
    "item_info",
    "media_url",
]

LABEL_QUEUE = "label"


@dataclass(frozen=True)
class ItemInfo:
    """An item as shown to an annotator."""

    id: int
    external_id: str
    payload: dict[str, Any]
    media_url: str | None
    meta: dict[str, Any]


def media_url(item: ItemRow) -> str | None:
    """Where a client fetches an item's media: the URL itself, or the service's media route."""
    if not item.media_ref:
        return None
    if item.media_ref.startswith(("http://", "https://")):
        return item.media_ref
    return f"/api/v1/items/{item.id}/media"


def item_info(item: ItemRow) -> ItemInfo:
    """The `ItemInfo` of an item row."""
    return ItemInfo(
        id=item.id,
        external_id=item.external_id,
        payload=dict(item.payload or {}),
        media_url=media_url(item),
        meta=dict(item.meta or {}),
    )


@dataclass(frozen=True)
class AnnotationInfo:
    """An annotation, with its item's status and final label after it was recorded."""

    id: int
    project_id: int
    item_id: int
    item_external_id: str
    task_id: int | None
    user_id: int | None
    actor: str
    source: str
    label: Any
    time_spent_ms: int | None
    guideline_version: int | None
    status: str
    created_at: dt.datetime
    item_status: str
    final_label: Any
    unsure: bool = False
    comment: str | None = None


def annotation_info(row: AnnotationRow, item: ItemRow) -> AnnotationInfo:
    """The `AnnotationInfo` of an annotation row and its item."""
    return AnnotationInfo(
        id=row.id,
        project_id=row.project_id,
        item_id=row.item_id,
        item_external_id=item.external_id,
        task_id=row.task_id,
        user_id=row.user_id,
        actor=row.actor,
        source=row.source,
        label=row.label,
        time_spent_ms=row.time_spent_ms,
        guideline_version=row.guideline_version,
        status=row.status,
        created_at=row.created_at,
        item_status=item.status,
        final_label=item.final_label,
        unsure=bool(row.unsure),
        comment=row.comment,
    )
