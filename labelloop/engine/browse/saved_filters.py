"""Saved filters of the item browser: a named query per project, the one write of `browse`.

Rules
-----
1. A saved filter is a name (1 to 100 characters, trimmed) and the browser's query:
   only the keys of `FILTER_KEYS`, each a string of at most 500 characters; empty
   values are dropped.
2. Names are unique per project: saving under a name that exists replaces its query.
3. Saving and deleting are audited (``filter.saved``, ``filter.deleted``), in the
   transaction that makes the change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import SavedFilterRow

__all__ = [
    "FILTER_KEYS",
    "SavedFilter",
    "delete_saved_filter",
    "list_saved_filters",
    "save_filter",
]

# The item browser's query parameters, as its form names them.
FILTER_KEYS: tuple[str, ...] = (
    "q",
    "meta",
    "status",
    "label",
    "annotator",
    "min_score",
    "max_score",
    "skipped",
    "sort",
)
_MAX_NAME = 100
_MAX_VALUE = 500


@dataclass(frozen=True)
class SavedFilter:
    """A named query of a project's item browser."""

    id: int
    project_id: int
    name: str
    filters: dict[str, str]
    created_by: str
    created_at: dt.datetime


def _info(row: SavedFilterRow) -> SavedFilter:
    return SavedFilter(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        filters=dict(row.filters or {}),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("a saved filter needs a name", field="name")
    name = name.strip()
    if len(name) > _MAX_NAME:
        raise ValidationError(f"name must be at most {_MAX_NAME} characters", field="name")
    return name


def _check_filters(filters: Any) -> dict[str, str]:
    """Rule 1: the known keys with non-empty string values."""
    if not isinstance(filters, dict):
        raise ValidationError("filters must be an object of the browser's fields", field="filters")
    kept: dict[str, str] = {}
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            raise ValidationError(
                f"unknown filter field {key!r}: use {', '.join(FILTER_KEYS)}",
                field=f"filters.{key}",
            )
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > _MAX_VALUE:
            raise ValidationError(
                f"filter field {key!r} must be text of at most {_MAX_VALUE} characters",
                field=f"filters.{key}",
            )
        kept[key] = value
    return kept


def list_saved_filters(db: Database, project: int | str) -> list[SavedFilter]:
    """A project's saved filters, by name."""
    with db.read() as session:
        project_id = resolve_project(session, project).id
        rows = session.execute(
            select(SavedFilterRow)
            .where(SavedFilterRow.project_id == project_id)
            .order_by(SavedFilterRow.name)
        ).scalars()
        return [_info(row) for row in rows]


def save_filter(
    db: Database, *, actor: str, project: int | str, name: str, filters: dict[str, Any]
) -> SavedFilter:
    """Save the browser's query under ``name`` (rules 1-3); an existing name is replaced.

    Raises
    ------
    ValidationError
        An empty or over-long name, an unknown field or a value that is not short text.
    """
    name = _check_name(name)
    kept = _check_filters(filters)
    with db.transaction() as session:
        project_id = resolve_project(session, project).id
        row = session.execute(
            select(SavedFilterRow).where(
                SavedFilterRow.project_id == project_id, SavedFilterRow.name == name
            )
        ).scalar_one_or_none()
        before = None if row is None else dict(row.filters or {})
        if row is None:
            row = SavedFilterRow(project_id=project_id, name=name, created_by=actor)
            session.add(row)
        row.filters = kept
        session.flush()
        append_event(
            session,
            project_id=project_id,
            actor=actor,
            action="filter.saved",
            target=f"filter:{name}",
            before=before,
            after=kept,
        )
        return _info(row)


def delete_saved_filter(db: Database, *, actor: str, project: int | str, filter_id: int) -> None:
    """Delete a saved filter of the project (rule 3); NotFoundError naming it otherwise."""
    with db.transaction() as session:
        project_id = resolve_project(session, project).id
        row = session.get(SavedFilterRow, filter_id)
        if row is None or row.project_id != project_id:
            raise NotFoundError(f"no saved filter {filter_id} in project {project_id}")
        append_event(
            session,
            project_id=project_id,
            actor=actor,
            action="filter.deleted",
            target=f"filter:{row.name}",
            before=dict(row.filters or {}),
        )
        session.delete(row)
