"""Final labels for a client model's retraining, one page at a time, from a cursor.

Rules
-----
1. An item appears when its latest active annotation is newer than the cursor and it
   has a final label (``annotated`` or ``accepted``); an item whose final label changes
   later (a review, another annotation) appears again on a later page.
2. The cursor is opaque (the last annotation id seen, encoded) and always given back: a
   page shorter than its limit means the client has caught up, and the same cursor later
   returns only what changed since.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
)

__all__ = ["MAX_PAGE", "labels_since"]

MAX_PAGE = 5_000


def _encode_cursor(annotation_id: int) -> str:
    return base64.urlsafe_b64encode(f"a:{annotation_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, value = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if kind != "a" or not value.isdigit():
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError(f"not a cursor from this service: {cursor!r}", field="since") from exc


def labels_since(
    db: Database, *, project_id: int | str, cursor: str | None = None, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Final labels, one page at a time, for a client's retraining.

    An item appears when its latest annotation is newer than the cursor and it has a
    final label (annotated or accepted); an item whose final label changes later (a
    review, another annotation) appears again on a later page.

    Parameters
    ----------
    db : Database
    project_id : int or str
    cursor : str, optional
        The ``next_cursor`` of the previous page; None for the first page.
    limit : int
        Page size, 1 to 5000.

    Returns
    -------
    (list of dict, str)
        Rows ``{"item_id": external id, "label" or "labels": ..., "annotation_id": id}``
        in annotation order, and the cursor to pass next time. The cursor is always
        given: a page shorter than ``limit`` means the client has caught up, and the
        same cursor later returns only what changed since.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")
    after = 0 if cursor in (None, "") else _decode_cursor(cursor)
    with db.read() as session:
        project = resolve_project(session, project_id)
        current = AnnotationRow.__table__.alias("current")
        later = (
            select(1)
            .select_from(AnnotationRow.__table__)
            .where(
                AnnotationRow.__table__.c.item_id == current.c.item_id,
                AnnotationRow.__table__.c.status == "active",
                AnnotationRow.__table__.c.id > current.c.id,
            )
            .exists()
        )
        rows = session.execute(
            select(current.c.id, ItemRow.external_id, ItemRow.final_label)
            .join(ItemRow, ItemRow.id == current.c.item_id)
            .where(
                current.c.project_id == project.id,
                current.c.id > after,
                current.c.status == "active",
                ItemRow.status.in_(("annotated", "accepted")),
                ~later,
            )
            .order_by(current.c.id)
            .limit(limit)
        ).all()
        key = "labels" if project.multi_label else "label"
    page = [
        {"item_id": external_id, key: final_label, "annotation_id": annotation_id}
        for annotation_id, external_id, final_label in rows
    ]
    return page, _encode_cursor(page[-1]["annotation_id"] if page else after)
