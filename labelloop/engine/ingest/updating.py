"""Updating an import's existing items: compare each spooled record with its item and
write what differs, in the import's transaction.

Rules
-----
1. An update changes an item's ``payload``, ``media_ref``, ``meta`` and
   ``content_hash`` (recomputed from the new content), never its label, tasks,
   annotations or place in the evaluation set.
2. A record equal to its item changes nothing and counts as skipped.
3. Each spooled batch (up to `reading.BATCH_ROWS` records) is one read of the items it
   names and one bulk update of those that differ, audited by one ``items.updated``
   event whose ``before`` and ``after`` map each changed item's external id to the
   fields that changed (old and new values).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelloop.engine.ingest.reading import ImportPlan, ProgressCallback
from labelloop.store.audit import append_event
from labelloop.store.tables import ItemRow

__all__ = ["write_updates"]

_FIELDS = ("payload", "media_ref", "meta", "content_hash")


def write_updates(
    session: Session,
    project_id: int,
    plan: ImportPlan,
    *,
    actor: str,
    source: str,
    on_progress: ProgressCallback | None,
) -> int:
    """Apply the plan's updates (rules 1-3); the number of items changed."""
    n_updated = n_done = 0
    for batch in plan.updates.batches():
        by_id = {row[0]: row for row in batch}
        current = session.execute(
            select(
                ItemRow.id, ItemRow.external_id, ItemRow.payload, ItemRow.media_ref,
                ItemRow.meta, ItemRow.content_hash,
            ).where(ItemRow.project_id == project_id, ItemRow.external_id.in_(list(by_id)))
        )  # fmt: skip
        changes: list[dict[str, Any]] = []
        before: dict[str, dict[str, Any]] = {}
        after: dict[str, dict[str, Any]] = {}
        for item_id, external_id, *old_values in current:
            _, payload, media_ref, meta, content_hash = by_id[external_id]
            old = dict(zip(_FIELDS, old_values, strict=True))
            old["meta"] = old["meta"] or {}
            new = {
                "payload": json.loads(payload),
                "media_ref": media_ref,
                "meta": json.loads(meta),
                "content_hash": content_hash,
            }
            changed = [name for name in _FIELDS if new[name] != old[name]]
            if changed:
                changes.append({"id": item_id, **new})
                before[external_id] = {name: old[name] for name in changed}
                after[external_id] = {name: new[name] for name in changed}
        if changes:
            session.execute(update(ItemRow), changes)
            append_event(
                session,
                project_id=project_id,
                actor=actor,
                action="items.updated",
                target=f"project:{project_id}",
                before={"items": before},
                after={"source": source, "items": after},
            )
        n_updated += len(changes)
        n_done += len(batch)
        if on_progress is not None:
            on_progress("updating", n_done, plan.n_update_candidates)
    return n_updated
