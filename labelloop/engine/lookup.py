"""Which project a task, annotation or review task belongs to: one indexed read each.

Also the cheap project reads of the request path (`project_exists`, `project_settings`):
a primary-key read, without the item counts `get_project_info` adds.

The service checks membership with these before a use case runs, so a caller outside
the project learns only "not found", whatever the id names. Given ``member_id``, the
same read also checks that user's membership, and a non-member gets None as if the row
did not exist.

::

    project_id = task_project_id(db, 42, member_id=user.id)
    if project_id is None:
        ...  # no such task, or not in one of the user's projects: answer 404
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import InstrumentedAttribute

from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    MembershipRow,
    ProjectRow,
    ReviewTaskRow,
    TaskRow,
)

__all__ = [
    "annotation_project_id",
    "project_exists",
    "project_settings",
    "review_task_project_id",
    "task_project_id",
]

_MAX_ID = 2**63 - 1


def _check_id(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer, not {value!r}", field=field)
    return value


def _project_of(
    db: Database,
    column: InstrumentedAttribute,
    key: InstrumentedAttribute,
    row_id: int,
    member_id: int | None,
) -> int | None:
    if not 0 < row_id <= _MAX_ID:
        return None
    query: Select = select(column).where(key == row_id)
    if member_id is not None:
        query = query.join(
            MembershipRow,
            and_(MembershipRow.project_id == column, MembershipRow.user_id == member_id),
        )
    with db.read() as session:
        return session.execute(query).scalar_one_or_none()


def project_exists(db: Database, project_id: int) -> bool:
    """Whether a project with this id exists (a primary-key read; no counts)."""
    _check_id(project_id, "project_id")
    return _project_of(db, ProjectRow.id, ProjectRow.id, project_id, None) is not None


def project_settings(db: Database, project_id: int) -> dict[str, Any]:
    """A project's settings over the defaults (a primary-key read; no counts).

    Raises
    ------
    NotFoundError
        No such project.
    """
    _check_id(project_id, "project_id")
    with db.read() as session:
        row = session.get(ProjectRow, project_id) if 0 < project_id <= _MAX_ID else None
        if row is None:
            raise NotFoundError(f"no project {project_id}")
        return effective_settings(row)


def task_project_id(db: Database, task_id: int, *, member_id: int | None = None) -> int | None:
    """The project of a task; None when there is no such task (or ``member_id`` is no member).

    Parameters
    ----------
    db : Database
    task_id : int
    member_id : int, optional
        A user who must be a member of the task's project.

    Returns
    -------
    int or None
    """
    _check_id(task_id, "task_id")
    return _project_of(db, TaskRow.project_id, TaskRow.id, task_id, member_id)


def annotation_project_id(
    db: Database, annotation_id: int, *, member_id: int | None = None
) -> int | None:
    """The project of an annotation; None when absent (or ``member_id`` is no member).

    See `task_project_id` for the parameters.
    """
    _check_id(annotation_id, "annotation_id")
    return _project_of(db, AnnotationRow.project_id, AnnotationRow.id, annotation_id, member_id)


def review_task_project_id(
    db: Database, review_task_id: int, *, member_id: int | None = None
) -> int | None:
    """The project of a review task; None when absent (or ``member_id`` is no member).

    See `task_project_id` for the parameters.
    """
    _check_id(review_task_id, "review_task_id")
    return _project_of(db, ReviewTaskRow.project_id, ReviewTaskRow.id, review_task_id, member_id)
