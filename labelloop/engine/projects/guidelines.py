"""Guideline versions: Markdown, numbered per project, each change a new version, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    GuidelineVersionRow,
    ProjectRow,
)

__all__ = [
    "GuidelineInfo",
    "add_guideline_version",
    "check_guidelines",
    "get_guidelines",
    "set_guidelines",
]


@dataclass(frozen=True)
class GuidelineInfo:
    """One version of a project's guidelines (Markdown)."""

    project_id: int
    version: int
    text: str
    created_by: str
    created_at: dt.datetime


# --------------------------------------------------------------------------- validation


def add_guideline_version(session: Session, project: ProjectRow, text: str, actor: str) -> int:
    """Store ``text`` as the project's next guideline version; returns its number."""
    version = project.guideline_version + 1
    session.add(
        GuidelineVersionRow(project_id=project.id, version=version, text=text, created_by=actor)
    )
    project.guideline_version = version
    return version


def check_guidelines(text: Any) -> str:
    """Guidelines must be non-empty Markdown text."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("guidelines must be non-empty Markdown text", field="guidelines")
    return text


def set_guidelines(db: Database, *, actor: str, project: int | str, text: str) -> int:
    """Store a new guideline version (Markdown) and return its number; audited."""
    text = check_guidelines(text)
    with db.transaction() as session:
        row = resolve_project(session, project)
        before = row.guideline_version
        version = add_guideline_version(session, row, text, actor)
        append_event(
            session,
            project_id=row.id,
            actor=actor,
            action="guidelines.updated",
            target=f"project:{row.id}",
            before={"version": before},
            after={"version": version, "sha256": hashlib.sha256(text.encode()).hexdigest()},
        )
        return version


def get_guidelines(
    db: Database, project: int | str, version: int | None = None
) -> GuidelineInfo | None:
    """A guideline version (default: the current one); None when the project has none.

    Raises
    ------
    NotFoundError
        If ``version`` is given and does not exist.
    """
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValidationError("a guideline version is a number", field="version")
    with db.read() as session:
        row = resolve_project(session, project)
        wanted = row.guideline_version if version is None else version
        found = session.execute(
            select(GuidelineVersionRow).where(
                GuidelineVersionRow.project_id == row.id, GuidelineVersionRow.version == wanted
            )
        ).scalar_one_or_none()
        if found is None:
            if version is None:
                return None
            raise NotFoundError(
                f"project {row.name!r} has no guideline version {version} "
                f"(latest: {row.guideline_version})"
            )
        return GuidelineInfo(
            project_id=row.id,
            version=found.version,
            text=found.text,
            created_by=found.created_by,
            created_at=found.created_at,
        )
