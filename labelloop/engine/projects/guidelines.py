"""Guideline versions: Markdown, numbered per project, each change a new version, audited.

Examples: an admin picks items (from the disagreements, say) and a note; in one step
they become guideline examples, each with the item's right label, and make a new
version (same text, the note saying what changed). A version shows every example added
up to it, oldest first.
"""

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
    GuidelineExampleRow,
    GuidelineVersionRow,
    ItemRow,
    ProjectRow,
)

__all__ = [
    "MAX_EXAMPLES",
    "GuidelineExample",
    "GuidelineInfo",
    "add_guideline_examples",
    "GuidelineChanges",
    "GuidelineLine",
    "add_guideline_version",
    "check_guidelines",
    "get_guidelines",
    "guideline_changes",
    "set_guidelines",
]


MAX_EXAMPLES = 50
_MAX_NOTE = 2000
_SNIPPET = 500


@dataclass(frozen=True)
class GuidelineExample:
    """An item shown beside the guidelines: its text (or id), the right label, a note."""

    item_id: int
    item_external_id: str
    text: str
    label: Any
    note: str
    version: int


@dataclass(frozen=True)
class GuidelineInfo:
    """One version of a project's guidelines (Markdown), with its examples."""

    project_id: int
    version: int
    text: str
    created_by: str
    created_at: dt.datetime
    note: str | None = None
    examples: tuple[GuidelineExample, ...] = ()


# --------------------------------------------------------------------------- validation


def add_guideline_version(
    session: Session, project: ProjectRow, text: str, actor: str, *, note: str | None = None
) -> int:
    """Store ``text`` as the project's next guideline version; returns its number."""
    version = project.guideline_version + 1
    session.add(
        GuidelineVersionRow(
            project_id=project.id, version=version, text=text, created_by=actor, note=note
        )
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
            note=found.note,
            examples=_examples(session, row.id, found.version),
        )


def _item_text(payload: dict[str, Any] | None, external_id: str) -> str:
    text = (payload or {}).get("text")
    if isinstance(text, str) and text.strip():
        return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
    return external_id


def _examples(session: Session, project_id: int, version: int) -> tuple[GuidelineExample, ...]:
    rows = session.execute(
        select(GuidelineExampleRow, ItemRow.external_id, ItemRow.payload)
        .join(ItemRow, ItemRow.id == GuidelineExampleRow.item_id)
        .where(
            GuidelineExampleRow.project_id == project_id,
            GuidelineExampleRow.version <= version,
        )
        .order_by(GuidelineExampleRow.id)
    ).all()
    return tuple(
        GuidelineExample(
            item_id=example.item_id,
            item_external_id=external_id,
            text=_item_text(payload, external_id),
            label=example.label,
            note=example.note,
            version=example.version,
        )
        for example, external_id, payload in rows
    )


def _check_examples(item_ids: Any, note: Any) -> tuple[list[int], str]:
    if not isinstance(item_ids, list | tuple) or not item_ids:
        raise ValidationError("pick at least one item as an example", field="item_ids")
    if len(item_ids) > MAX_EXAMPLES:
        raise ValidationError(
            f"at most {MAX_EXAMPLES} examples at a time, got {len(item_ids)}", field="item_ids"
        )
    for position, item_id in enumerate(item_ids):
        if isinstance(item_id, bool) or not isinstance(item_id, int) or item_id < 1:
            raise ValidationError(
                f"item_ids[{position}] must be an item id (a whole number >= 1), got {item_id!r}",
                field="item_ids",
            )
    if len(set(item_ids)) != len(item_ids):
        raise ValidationError("an item is picked twice", field="item_ids")
    if not isinstance(note, str) or not note.strip():
        raise ValidationError("a note is needed: say what the examples teach", field="note")
    if len(note) > _MAX_NOTE:
        raise ValidationError(f"the note is longer than {_MAX_NOTE} characters", field="note")
    return list(item_ids), note.strip()


def _ids_of(session: Session, project: ProjectRow, external_ids: Any) -> list[int]:
    """The item ids of ``external_ids`` in ``project``, in their order."""
    if not isinstance(external_ids, list | tuple) or not external_ids:
        raise ValidationError("pick at least one item as an example", field="items")
    for position, external_id in enumerate(external_ids):
        if not isinstance(external_id, str) or not external_id:
            raise ValidationError(f"items[{position}] must be an item id (text)", field="items")
    found = dict(
        session.execute(
            select(ItemRow.external_id, ItemRow.id).where(
                ItemRow.project_id == project.id, ItemRow.external_id.in_(list(external_ids))
            )
        ).all()
    )
    for position, external_id in enumerate(external_ids):
        if external_id not in found:
            raise ValidationError(
                f"items[{position}]: project {project.name!r} has no item {external_id!r}",
                field="items",
            )
    return [found[e] for e in external_ids]


def add_guideline_examples(
    db: Database,
    *,
    actor: str,
    project: int | str,
    item_ids: list[int] | None = None,
    note: str,
    external_ids: list[str] | None = None,
) -> GuidelineInfo:
    """Make items guideline examples with a note, as a new guideline version; audited.

    Each example shows the item's final label (it must have one). The new version keeps
    the guidelines' text; its note is ``note``.

    Parameters
    ----------
    item_ids : list of int
        The items (ids of this project), at most `MAX_EXAMPLES`, none an example already.
    external_ids : list of str
        Instead of ``item_ids``: the items by the ids they were imported with.
    note : str
        What the examples teach, in a sentence; shown to annotators as what changed.

    Raises
    ------
    ValidationError
        Naming the item that is not in the project, has no label yet, or is an example
        already; nothing is stored.
    """
    if (item_ids is None) == (external_ids is None):
        raise ValidationError("give the examples' item_ids or their external_ids", field="items")
    with db.transaction() as session:
        row = resolve_project(session, project)
        if external_ids is not None:
            item_ids = _ids_of(session, row, external_ids)
        item_ids, note = _check_examples(item_ids, note)
        items = {
            item.id: item
            for item in session.execute(
                select(ItemRow).where(ItemRow.project_id == row.id, ItemRow.id.in_(item_ids))
            ).scalars()
        }
        already = dict(
            session.execute(
                select(GuidelineExampleRow.item_id, GuidelineExampleRow.version).where(
                    GuidelineExampleRow.project_id == row.id,
                    GuidelineExampleRow.item_id.in_(item_ids),
                )
            ).all()
        )
        for position, item_id in enumerate(item_ids):
            item = items.get(item_id)
            if item is None:
                raise ValidationError(
                    f"item_ids[{position}]: project {row.name!r} has no item {item_id}",
                    field="item_ids",
                )
            if item.final_label is None:
                raise ValidationError(
                    f"item_ids[{position}]: item {item.external_id!r} has no label yet",
                    field="item_ids",
                )
            if item_id in already:
                raise ValidationError(
                    f"item_ids[{position}]: item {item.external_id!r} is an example since "
                    f"guideline version {already[item_id]}",
                    field="item_ids",
                )
        current = session.execute(
            select(GuidelineVersionRow.text).where(
                GuidelineVersionRow.project_id == row.id,
                GuidelineVersionRow.version == row.guideline_version,
            )
        ).scalar_one_or_none()
        before = row.guideline_version
        version = add_guideline_version(session, row, current or "", actor, note=note)
        for item_id in item_ids:
            session.add(
                GuidelineExampleRow(
                    project_id=row.id,
                    version=version,
                    item_id=item_id,
                    label=items[item_id].final_label,
                    note=note,
                    created_by=actor,
                )
            )
        session.flush()
        append_event(
            session,
            project_id=row.id,
            actor=actor,
            action="guidelines.examples_added",
            target=f"project:{row.id}",
            before={"version": before},
            after={
                "version": version,
                "items": [items[i].external_id for i in item_ids],
                "note": note,
            },
        )
        found = session.execute(
            select(GuidelineVersionRow).where(
                GuidelineVersionRow.project_id == row.id, GuidelineVersionRow.version == version
            )
        ).scalar_one()
        return GuidelineInfo(
            project_id=row.id,
            version=version,
            text=found.text,
            created_by=found.created_by,
            created_at=found.created_at,
            note=note,
            examples=_examples(session, row.id, version),
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
