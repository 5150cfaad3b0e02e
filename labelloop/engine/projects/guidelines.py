"""Guideline versions: Markdown, numbered per project, each change a new version, audited."""

from __future__ import annotations

import datetime as dt
import difflib
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
    "GuidelineChanges",
    "GuidelineInfo",
    "GuidelineLine",
    "add_guideline_version",
    "check_guidelines",
    "get_guidelines",
    "guideline_changes",
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


@dataclass(frozen=True)
class GuidelineLine:
    """One line of a guideline diff: ``op`` is ``same``, ``added`` or ``removed``."""

    op: str
    text: str


@dataclass(frozen=True)
class GuidelineChanges:
    """What changed from guideline version ``old`` to ``new``: every line of both, in order,
    each marked same, added or removed; ``added`` and ``removed`` count the changed lines."""

    project_id: int
    old: int
    new: int
    lines: tuple[GuidelineLine, ...]
    added: int
    removed: int


def guideline_changes(
    db: Database, project: int | str, *, old: int | None = None, new: int | None = None
) -> GuidelineChanges:
    """The line diff between two stored guideline versions (default: the current one and
    the one before it), for the "what changed" view.

    Raises
    ------
    NotFoundError
        A version that does not exist, or a project without guidelines.
    ValidationError
        A version that is not a number.
    """
    for name, value in (("old", old), ("new", new)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError(f"guideline version {name!r} must be a number", field=name)
    current = get_guidelines(db, project, new)
    if current is None:
        raise NotFoundError(f"project {project!r} has no guidelines yet")
    old = current.version - 1 if old is None else old
    before = get_guidelines(db, project, old).text if old >= 1 else ""
    before_lines, after_lines = before.splitlines(), current.text.splitlines()
    lines: list[GuidelineLine] = []
    matcher = difflib.SequenceMatcher(a=before_lines, b=after_lines, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            lines.extend(GuidelineLine("same", text) for text in after_lines[b0:b1])
            continue
        lines.extend(GuidelineLine("removed", text) for text in before_lines[a0:a1])
        lines.extend(GuidelineLine("added", text) for text in after_lines[b0:b1])
    return GuidelineChanges(
        project_id=current.project_id,
        old=max(old, 0),
        new=current.version,
        lines=tuple(lines),
        added=sum(line.op == "added" for line in lines),
        removed=sum(line.op == "removed" for line in lines),
    )
