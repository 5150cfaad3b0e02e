"""What a round reads: the project, its labelled sets, and the pool page by page.

Rules
-----
1. A round works on a snapshot of the project (`ProjectSnapshot`) and of its labels
   (`LabelledSet`), read in one read transaction before anything is fitted: labels given
   after it are new to the next round.
2. Labelled means a final label on an item ``annotated`` or ``accepted``
   (`LABELLED_STATUSES`); the evaluation set and the training set never mix.
   Auto-labels (final label from ``model``) are in the training set only with the
   ``auto_label_train`` setting on: self-training amplifies the model's own errors.
3. The pool is the open non-eval items. It is read in keyset pages (``id > last``),
   each in its own short read transaction (`item_chunks`), so no read holds a snapshot
   for the length of a round and memory holds one page.
4. ``IN (...)`` lists hold at most `IN_BATCH` ids, well under SQLite's bound-parameter
   limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import LABELLED_STATUSES
from labelloop.engine.core.settings import effective_settings
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow, ProjectRow

if TYPE_CHECKING:  # scikit-learn loads on first use, not with the engine
    from labelloop.models.builtin import ItemInput

__all__ = [
    "FEATURIZER_SAMPLE",
    "IN_BATCH",
    "LABELLED_STATUSES",
    "LabelledSet",
    "ProjectSnapshot",
    "annotation_ids",
    "count_pool",
    "external_ids",
    "featurizer_sample",
    "item_chunks",
    "read_labelled",
    "snapshot_project",
]

FEATURIZER_SAMPLE = 5_000  # pool items the featurizer also learns from (unsupervised)
IN_BATCH = 1_000  # ids per IN (...) list, well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class ProjectSnapshot:
    """The project as a round sees it, settings resolved, detached from any session."""

    id: int
    name: str
    task_type: str
    labels: list[str]
    multi_label: bool
    strategy: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class LabelledSet:
    """Labelled items in id order: their ids, model inputs and final labels."""

    item_ids: list[int]
    inputs: list[ItemInput]
    labels: list[Any]


def snapshot_project(row: ProjectRow) -> ProjectSnapshot:
    """The round's copy of a project row."""
    return ProjectSnapshot(
        id=row.id,
        name=row.name,
        task_type=row.task_type,
        labels=list(row.labels),
        multi_label=bool(row.multi_label),
        strategy=row.strategy,
        settings=effective_settings(row),
    )


def read_labelled(
    session: Session, project_id: int, *, is_eval: bool, auto_labels: bool = False
) -> LabelledSet:
    """The training set (``is_eval=False``) or the evaluation set's labelled items.

    ``auto_labels``: whether items labelled by the model count (rule 2).
    """
    from labelloop.models.builtin import ItemInput

    conditions = [
        ItemRow.project_id == project_id,
        ItemRow.status.in_(LABELLED_STATUSES),
        ItemRow.is_eval.is_(is_eval),
    ]
    if not auto_labels:
        conditions.append(or_(ItemRow.label_source.is_(None), ItemRow.label_source != "model"))
    rows = session.execute(
        select(ItemRow.id, ItemRow.payload, ItemRow.media_ref, ItemRow.final_label)
        .where(*conditions)
        .order_by(ItemRow.id)
    ).all()
    rows = [r for r in rows if r.final_label is not None]
    return LabelledSet(
        item_ids=[r.id for r in rows],
        inputs=[ItemInput(r.payload or {}, r.media_ref) for r in rows],
        labels=[r.final_label for r in rows],
    )


def annotation_ids(session: Session, project_id: int, item_ids: set[int]) -> dict[int, list[int]]:
    """The active annotations behind each of ``item_ids``' labels, oldest first."""
    found: dict[int, list[int]] = {}
    rows = session.execute(
        select(AnnotationRow.item_id, AnnotationRow.id)
        .where(AnnotationRow.project_id == project_id, AnnotationRow.status == "active")
        .order_by(AnnotationRow.id)
    )
    for item_id, annotation_id in rows:
        if item_id in item_ids:
            found.setdefault(item_id, []).append(annotation_id)
    return found


def _pool_conditions(project_id: int, *, is_eval: bool) -> list[Any]:
    conditions = [ItemRow.project_id == project_id, ItemRow.is_eval.is_(is_eval)]
    if not is_eval:
        conditions.append(ItemRow.status == "open")
    return conditions


def item_chunks(
    db: Database, project_id: int, size: int, *, is_eval: bool
) -> Iterator[tuple[list[int], list[ItemInput]]]:
    """The open non-eval pool (or the evaluation set), ``size`` items at a time (rule 3)."""
    from labelloop.models.builtin import ItemInput

    conditions = _pool_conditions(project_id, is_eval=is_eval)
    last = 0
    while True:
        with db.read() as session:
            rows = session.execute(
                select(ItemRow.id, ItemRow.payload, ItemRow.media_ref)
                .where(*conditions, ItemRow.id > last)
                .order_by(ItemRow.id)
                .limit(size)
            ).all()
        if not rows:
            return
        yield [r.id for r in rows], [ItemInput(r.payload or {}, r.media_ref) for r in rows]
        last = rows[-1].id


def featurizer_sample(
    session: Session, project_id: int, size: int, *, is_eval: bool
) -> list[ItemInput]:
    """The first ``size`` open pool items (or evaluation items), for the featurizer."""
    from labelloop.models.builtin import ItemInput

    rows = session.execute(
        select(ItemRow.payload, ItemRow.media_ref)
        .where(*_pool_conditions(project_id, is_eval=is_eval))
        .order_by(ItemRow.id)
        .limit(size)
    ).all()
    return [ItemInput(r.payload or {}, r.media_ref) for r in rows]


def count_pool(session: Session, project_id: int) -> int:
    """How many open non-eval items the pool holds."""
    return session.execute(
        select(func.count())
        .select_from(ItemRow)
        .where(*_pool_conditions(project_id, is_eval=False))
    ).scalar_one()


def external_ids(session: Session, item_ids: Sequence[int]) -> dict[int, str]:
    """Each of ``item_ids``' external id, `IN_BATCH` ids a query."""
    found: dict[int, str] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), IN_BATCH):
        rows = session.execute(
            select(ItemRow.id, ItemRow.external_id).where(
                ItemRow.id.in_(ids[start : start + IN_BATCH])
            )
        )
        found.update({item_id: external_id for item_id, external_id in rows})
    return found
