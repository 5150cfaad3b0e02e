"""Dataset versions: the immutable (item, label, annotation ids) sets models were trained on.

`labelloop.engine.rounds.train` writes one per round; this module lists, reads and
diffs them, always by item external id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    DatasetVersionEntryRow,
    DatasetVersionRow,
    ItemRow,
    ModelVersionRow,
)

__all__ = [
    "DatasetEntry",
    "DatasetVersionInfo",
    "LabelChange",
    "VersionDiff",
    "diff_dataset_versions",
    "get_dataset_version",
    "iter_dataset_entries",
    "list_dataset_versions",
]


@dataclass(frozen=True)
class DatasetVersionInfo:
    """One dataset version of a project.

    Attributes
    ----------
    version : int
        Its number in the project, from 1.
    n_items : int
        Labelled items it holds.
    created_by : str
        Who trained (the actor of the round).
    created_at : datetime
    model_versions : tuple of int
        The model versions trained on it.
    """

    version: int
    n_items: int
    created_by: str
    created_at: dt.datetime
    model_versions: tuple[int, ...]


@dataclass(frozen=True)
class DatasetEntry:
    """One item of a dataset version: its external id, label and the annotations behind it."""

    external_id: str
    label: Any
    annotation_ids: tuple[int, ...]


@dataclass(frozen=True)
class LabelChange:
    """An item whose label differs between two dataset versions."""

    external_id: str
    before: Any
    after: Any


@dataclass(frozen=True)
class VersionDiff:
    """What changed from dataset version ``a`` to ``b``, by item external id (sorted)."""

    a: int
    b: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    relabelled: tuple[LabelChange, ...]


def _check_version(version: Any, name: str = "version") -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationError(f"{name} must be a dataset version number (1, 2, ...)", field=name)
    return version


def _version_row(session: Session, project_id: int, name: str, version: int) -> DatasetVersionRow:
    row = session.execute(
        select(DatasetVersionRow).where(
            DatasetVersionRow.project_id == project_id, DatasetVersionRow.version == version
        )
    ).scalar_one_or_none()
    if row is None:
        latest = session.execute(
            select(func.max(DatasetVersionRow.version)).where(
                DatasetVersionRow.project_id == project_id
            )
        ).scalar_one()
        have = f"versions 1 to {latest}" if latest else "no dataset versions yet (train first)"
        raise NotFoundError(f"project {name!r} has no dataset version {version}: it has {have}")
    return row


def _infos(session: Session, rows: list[DatasetVersionRow]) -> list[DatasetVersionInfo]:
    trained: dict[int, list[int]] = {}
    if rows:
        for dataset_id, model_version in session.execute(
            select(ModelVersionRow.dataset_version_id, ModelVersionRow.version)
            .where(ModelVersionRow.dataset_version_id.in_([r.id for r in rows]))
            .order_by(ModelVersionRow.version)
        ):
            trained.setdefault(dataset_id, []).append(model_version)
    return [
        DatasetVersionInfo(
            version=row.version,
            n_items=row.n_items,
            created_by=row.created_by,
            created_at=row.created_at,
            model_versions=tuple(trained.get(row.id, ())),
        )
        for row in rows
    ]


def list_dataset_versions(db: Database, project: int | str) -> list[DatasetVersionInfo]:
    """Every dataset version of a project, oldest first."""
    with db.read() as session:
        proj = resolve_project(session, project)
        rows = list(
            session.execute(
                select(DatasetVersionRow)
                .where(DatasetVersionRow.project_id == proj.id)
                .order_by(DatasetVersionRow.version)
            ).scalars()
        )
        return _infos(session, rows)


def get_dataset_version(db: Database, project: int | str, version: int) -> DatasetVersionInfo:
    """One dataset version (NotFoundError naming the versions there are)."""
    version = _check_version(version)
    with db.read() as session:
        proj = resolve_project(session, project)
        return _infos(session, [_version_row(session, proj.id, proj.name, version)])[0]


def _entries(session: Session, dataset_version_id: int) -> Iterator[DatasetEntry]:
    rows = session.execute(
        select(
            ItemRow.external_id,
            DatasetVersionEntryRow.label,
            DatasetVersionEntryRow.annotation_ids,
        )
        .join(ItemRow, ItemRow.id == DatasetVersionEntryRow.item_id)
        .where(DatasetVersionEntryRow.dataset_version_id == dataset_version_id)
        .order_by(DatasetVersionEntryRow.item_id)
    )
    for external_id, label, annotation_ids in rows:
        yield DatasetEntry(external_id, label, tuple(annotation_ids or ()))


def iter_dataset_entries(db: Database, project: int | str, version: int) -> Iterator[DatasetEntry]:
    """The items of a dataset version, exactly as a model saw them, in item order."""
    version = _check_version(version)
    with db.read() as session:
        proj = resolve_project(session, project)
        row = _version_row(session, proj.id, proj.name, version)
        yield from _entries(session, row.id)


def diff_dataset_versions(db: Database, project: int | str, a: int, b: int) -> VersionDiff:
    """What changed from dataset version ``a`` to ``b``.

    Returns
    -------
    VersionDiff
        ``added``: items in ``b`` and not in ``a``; ``removed``: in ``a`` and not in ``b``
        (a label undone or rejected); ``relabelled``: in both with different labels.
    """
    a = _check_version(a, "a")
    b = _check_version(b, "b")
    with db.read() as session:
        proj = resolve_project(session, project)
        old = {
            e.external_id: e.label
            for e in _entries(session, _version_row(session, proj.id, proj.name, a).id)
        }
        new = {
            e.external_id: e.label
            for e in _entries(session, _version_row(session, proj.id, proj.name, b).id)
        }
    return VersionDiff(
        a=a,
        b=b,
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        relabelled=tuple(
            LabelChange(key, old[key], new[key])
            for key in sorted(old.keys() & new.keys())
            if old[key] != new[key]
        ),
    )
