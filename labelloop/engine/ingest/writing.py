"""Writing an import: reserve ids, mark the evaluation set, bulk-write items, tasks, labels.

Imported labels are decided by the final-label rule like every other label, and an
imported label that stands is a change of the label feed: its ``label_changes`` row is
bulk-written beside its item.

New open items join the queue unscored (`labelloop.engine.core.priority`, rule 4): in
a seeded random order under every item a model has scored, until the latest round's
model scores them (the ``score_new`` job the import queues, see `importer`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import imported_decision, item_columns, standing_label
from labelloop.engine.core.labels import label_key
from labelloop.engine.core.priority import ranking_model, unscored_priorities
from labelloop.engine.core.settings import effective_settings
from labelloop.engine.ingest.reading import ImportPlan, ProgressCallback
from labelloop.store.tables import ItemRow, ProjectRow, utcnow
from labelloop.store.writes import BulkWriter

__all__ = ["write_plan"]

_SQLITE_CACHE_KIB = 256 * 1024
# The columns an import writes, in flush order (items before the rows that point at them).
_COLUMNS = {
    "items": (
        "id", "project_id", "external_id", "payload", "media_ref", "meta",
        "content_hash", "is_eval", "status", "final_label", "label_source",
        "labelled_at", "created_at",
    ),
    "tasks": (
        "project_id", "item_id", "queue", "status", "priority", "needed",
        "active_leases", "reason", "is_eval", "created_at", "updated_at",
    ),
    "annotations": (
        "project_id", "item_id", "actor", "source", "label", "guideline_version",
        "status", "created_at",
    ),
    "label_changes": ("project_id", "item_id", "label", "created_at"),
}  # fmt: skip


# --------------------------------------------------------------------------- writing


def _reserve_item_ids(session: Session, n: int) -> Iterator[int]:
    """Ids for ``n`` new items, so tasks and annotations can point at them in bulk."""
    if n == 0:
        return iter(())
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.execute(select(func.pg_get_serial_sequence("items", "id"))).scalar_one()
        ids = session.execute(
            select(func.nextval(sequence)).select_from(func.generate_series(1, n))
        ).scalars()
        return iter(sorted(ids))
    # SQLite: the write transaction (BEGIN IMMEDIATE) holds the database lock.
    start = session.execute(select(func.max(ItemRow.id))).scalar() or 0
    return iter(range(start + 1, start + n + 1))


def _eval_count(session: Session, project: ProjectRow, n_new: int) -> int:
    """How many of the new items join the evaluation set (topping up to its target)."""
    settings = effective_settings(project)
    n_before, n_eval_before = session.execute(
        select(func.count(), func.coalesce(func.sum(case((ItemRow.is_eval, 1), else_=0)), 0)).where(
            ItemRow.project_id == project.id
        )
    ).one()
    total = n_before + n_new
    # eval_min applies "where the pool allows": never more than half the pool.
    target = max(math.ceil(settings["eval_share"] * total), min(settings["eval_min"], total // 2))
    return max(0, min(n_new, target - int(n_eval_before)))


def write_plan(
    session: Session,
    project: ProjectRow,
    plan: ImportPlan,
    rng: np.random.Generator,
    actor: str,
    on_progress: ProgressCallback | None,
) -> int:
    settings = effective_settings(project)
    n_eval = _eval_count(session, project, plan.n_new)
    is_eval = np.zeros(plan.n_new, dtype=bool)
    is_eval[rng.choice(plan.n_new, size=n_eval, replace=False)] = True
    is_eval_list = is_eval.tolist()
    n_open = plan.n_new - plan.n_labelled
    # Cold-start order: a seeded random permutation, in the unscored range.
    priorities = iter(unscored_priorities(rng.permutation(n_open) / max(n_open, 1)).tolist())
    ranked_by = ranking_model(session, project.id)
    reason = (
        "cold start: random order"
        if ranked_by is None
        else f"new: waits to be scored by model version {ranked_by[1]}"
    )
    item_ids = _reserve_item_ids(session, plan.n_new)
    guideline_version = project.guideline_version or None
    overlap = settings["overlap"]
    project_id = project.id

    writer = BulkWriter(session, _COLUMNS, sqlite_cache_kib=_SQLITE_CACHE_KIB)
    items, tasks, annotations, changes = (writer.rows[table] for table in _COLUMNS)
    now = writer.now
    imported = _ImportedLabels()
    ordinal = 0
    for batch in plan.spool.batches():
        for external_id, payload, media_ref, meta, content_hash, label in batch:
            item_id = next(item_ids)
            eval_item = is_eval_list[ordinal]
            ordinal += 1
            if label is None:
                items.append(
                    (item_id, project_id, external_id, payload, media_ref, meta, content_hash,
                     eval_item, "open", None, None, None, now)
                )  # fmt: skip
                tasks.append(
                    (project_id, item_id, "label", "open", next(priorities), overlap, 0,
                     reason, eval_item, now, now)
                )  # fmt: skip
            else:
                decided = imported(label)
                items.append(
                    (item_id, project_id, external_id, payload, media_ref, meta, content_hash,
                     eval_item, decided["status"], decided["final_label"],
                     decided["label_source"], now, now)
                )  # fmt: skip
                annotations.append(
                    (project_id, item_id, actor, "import", label, guideline_version, "active",
                     now)
                )  # fmt: skip
                standing = standing_label(decided["status"], decided["final_label"])
                if standing is not None:
                    changes.append((project_id, item_id, standing, now))
        writer.flush()
        if on_progress is not None:
            on_progress("writing", ordinal, plan.n_new)
    writer.close()
    return n_eval


class _ImportedLabels:
    """The final-label rule's decision for an imported label, decided once per label.

    An imported record's label is one complete ``import`` vote: the rule
    (`labelloop.engine.core.final_label.imported_decision`) decides it, and
    `item_columns` maps the decision to the item's columns, as for every other label.
    """

    def __init__(self) -> None:
        self._decided: dict[tuple[bool, str], dict[str, Any]] = {}

    def __call__(self, label: Any) -> dict[str, Any]:
        key = (True, label) if isinstance(label, str) else (False, label_key(label))
        found = self._decided.get(key)
        if found is None:
            found = self._decided[key] = item_columns(imported_decision(label), utcnow())
        return found
