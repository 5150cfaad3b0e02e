"""Which project a call means: a project is named by its id or its unique name.

Rules
-----
1. An int, or a string of digits, is an id; any other string is a name (names are never
   all digits, so the two cannot collide).
2. A reference to no project raises `NotFoundError` naming it; a reference of the wrong
   type raises `ValidationError` naming the ``project`` field.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.tables import ProjectRow

__all__ = ["TASK_TYPES", "project_key", "project_not_found", "resolve_project"]

TASK_TYPES: tuple[str, ...] = (
    "classification",
    "tabular",
    "image",
    "audio",
    "video",
    "ner",
    "boxes",
)


def project_key(ref: int | str) -> int | str:
    """Rule 1: the project's id (an int) or its name (a str) from ``ref``.

    Raises
    ------
    ValidationError
        Naming the ``project`` field when ``ref`` is neither an int nor a str.
    """
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise ValidationError(f"a project is named by id or name, got {ref!r}", field="project")
    if isinstance(ref, int) or ref.strip().isdigit():
        return int(ref)
    return ref.strip()


def project_not_found(ref: int | str) -> NotFoundError:
    """Rule 2: the error for a reference to no project."""
    return NotFoundError(f"no project {ref!r}: see `labelloop project list`")


def resolve_project(session: Session, ref: int | str) -> ProjectRow:
    """The project with id or name ``ref`` (a string of digits is taken as an id).

    Raises
    ------
    NotFoundError
        Naming ``ref`` when there is no such project.
    """
    key = project_key(ref)
    if isinstance(key, int):
        row = session.get(ProjectRow, key)
    else:
        row = session.execute(select(ProjectRow).where(ProjectRow.name == key)).scalar_one_or_none()
    if row is None:
        raise project_not_found(ref)
    return row
