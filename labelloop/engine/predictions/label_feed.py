"""The label feed: every change of a project's final labels, one page at a time, from a cursor.

A client model that applies the feed in order holds exactly the project's final labels
(the labelled export), whatever happened in between: new labels, reviews, undos,
relabels, overlap changes, imports.

Rules
-----
1. The feed is the project's ``label_changes`` rows in id order; the final-label writer
   (`labelloop.engine.core.final_label`) adds one, in the transaction that makes it,
   whenever an item's standing label changes, and only then.
2. An entry is ``{"item_id": external id, "label": ...}`` (``"labels"`` for a
   multi-label project, ``"spans"`` for an entity project: its ``{start, end, label}``
   list) with the label the item holds from that change on, or
   ``{"item_id": external id, "withdrawn": true}`` when it holds none any more: its
   label was undone or rejected, its votes tied, or it went back to review with a
   provisional label. Entries are not collapsed: an item changed twice appears twice,
   and the later entry is the one that stands.
3. The cursor is opaque (the position of the last change read, encoded) and always
   given back: a page shorter than its limit means the client has caught up, and the
   same cursor later returns only what changed since. A cursor of the annotation-based
   feed before it (``a:`` positions) is refused: that client must read from the start
   and replace what it holds.
4. On PostgreSQL a read first waits for the transactions still writing label changes
   (a SHARE lock on the table, held for the read): ids are taken before commit, so a
   change committed late with a lower id would otherwise fall behind a cursor already
   past it. SQLite runs one write at a time, so there ids are always in commit order.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select, text

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, LabelChangeRow

__all__ = ["MAX_PAGE", "labels_since"]

MAX_PAGE = 5_000
_KIND = "c"
_OLD_KIND = "a"  # the annotation-id cursors of the feed before label changes
# Rule 4: SHARE conflicts with the ROW EXCLUSIVE lock every insert holds until commit.
_WAIT_FOR_WRITERS = text("LOCK TABLE label_changes IN SHARE MODE")


def _encode_cursor(change_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_KIND}:{change_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, value = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        kind, value = "", ""
    if kind == _OLD_KIND and value.isdigit():
        raise ValidationError(
            "this cursor is from the annotation-based label feed, which did not report "
            "reviews or withdrawals: read the feed again without since and replace the "
            "labels you hold",
            field="since",
        )
    if kind != _KIND or not value.isdigit():
        raise ValidationError(f"not a cursor from this service: {cursor!r}", field="since")
    return int(value)


def _entry(external_id: str, label: Any, key: str) -> dict[str, Any]:
    if label is None:
        return {"item_id": external_id, "withdrawn": True}
    return {"item_id": external_id, key: label}


def labels_since(
    db: Database, *, project_id: int | str, cursor: str | None = None, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Changes of the project's final labels after a cursor, one page at a time.

    Parameters
    ----------
    db : Database
    project_id : int or str
    cursor : str, optional
        The cursor this function gave back last time; None (or "") for the first page.
    limit : int
        Page size, 1 to 5000.

    Returns
    -------
    (list of dict, str)
        Entries in the order the changes were made, each
        ``{"item_id": external id, "label" or "labels": the label that now stands}`` or
        ``{"item_id": external id, "withdrawn": True}``, and the cursor to pass next
        time. The cursor is always given: a page shorter than ``limit`` means the client
        has caught up, and the same cursor later returns only what changed since.

    Examples
    --------
    A client keeps what it holds by applying each entry in order:

    >>> held = {}
    >>> page, cursor = labels_since(db, project_id=1)  # doctest: +SKIP
    >>> for entry in page:  # doctest: +SKIP
    ...     if entry.get("withdrawn"):
    ...         held.pop(entry["item_id"], None)
    ...     else:
    ...         held[entry["item_id"]] = entry["label"]
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")
    after = 0 if cursor in (None, "") else _decode_cursor(cursor)
    with db.read() as session:
        project = resolve_project(session, project_id)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_WAIT_FOR_WRITERS)
        rows = session.execute(
            select(LabelChangeRow.id, ItemRow.external_id, LabelChangeRow.label)
            .join(ItemRow, ItemRow.id == LabelChangeRow.item_id)
            .where(LabelChangeRow.project_id == project.id, LabelChangeRow.id > after)
            .order_by(LabelChangeRow.id)
            .limit(limit)
        ).all()
        key = (
            "spans" if project.task_type == "ner" else "labels" if project.multi_label else "label"
        )
    page = [_entry(external_id, label, key) for _id, external_id, label in rows]
    return page, _encode_cursor(rows[-1][0] if rows else after)
