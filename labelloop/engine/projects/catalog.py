"""Projects: create one, list them, show one with its counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.project import TASK_TYPES, resolve_project
from labelloop.engine.core.schema import check_labels
from labelloop.engine.core.settings import DEFAULT_SETTINGS, effective_settings
from labelloop.engine.projects.checks import (
    check_name,
    check_project_settings,
    check_strategy,
    check_trainable,
)
from labelloop.engine.projects.guidelines import add_guideline_version, check_guidelines
from labelloop.exceptions import ConflictError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    ItemRow,
    MembershipRow,
    ProjectRow,
)

__all__ = [
    "ProjectInfo",
    "create_project",
    "get_project_info",
    "list_projects",
    "project_info",
    "status_counts",
]


@dataclass(frozen=True)
class ProjectInfo:
    """A project with its item counts (counted from the indexed ``items.status``).

    Attributes
    ----------
    n_items : int
        Items in the pool.
    n_labelled : int
        Items with a final label (annotated, imported or accepted by review).
    n_open : int
        Items without a final label.
    n_in_review : int
        Items waiting for a reviewer.
    """

    id: int
    name: str
    task_type: str
    labels: tuple[str, ...]
    multi_label: bool
    strategy: str
    settings: dict[str, Any]
    guideline_version: int
    created_at: dt.datetime
    n_items: int = 0
    n_labelled: int = 0
    n_open: int = 0
    n_in_review: int = 0


def status_counts(session: Session, project_ids: list[int]) -> dict[int, dict[str, int]]:
    """Item counts by status of each project, one grouped query."""
    counts: dict[int, dict[str, int]] = {pid: {} for pid in project_ids}
    if not project_ids:
        return counts
    rows = session.execute(
        select(ItemRow.project_id, ItemRow.status, func.count())
        .where(ItemRow.project_id.in_(project_ids))
        .group_by(ItemRow.project_id, ItemRow.status)
    )
    for project_id, status, count in rows:
        counts[project_id][status] = count
    return counts


def project_info(row: ProjectRow, counts: dict[str, int] | None = None) -> ProjectInfo:
    """The `ProjectInfo` of a project row, with its item counts by status."""
    counts = counts or {}
    return ProjectInfo(
        id=row.id,
        name=row.name,
        task_type=row.task_type,
        labels=tuple(row.labels),
        multi_label=row.multi_label,
        strategy=row.strategy,
        settings=effective_settings(row),
        guideline_version=row.guideline_version,
        created_at=row.created_at,
        n_items=sum(counts.values()),
        n_labelled=counts.get("annotated", 0) + counts.get("accepted", 0),
        n_open=counts.get("open", 0),
        n_in_review=counts.get("in_review", 0),
    )


def list_projects(db: Database, *, user_id: int | None = None) -> list[ProjectInfo]:
    """Every project with its counts, by id; only a user's own projects with ``user_id``."""
    with db.read() as session:
        query = select(ProjectRow).order_by(ProjectRow.id)
        if user_id is not None:
            query = query.join(MembershipRow, MembershipRow.project_id == ProjectRow.id).where(
                MembershipRow.user_id == user_id
            )
        rows = list(session.execute(query).scalars())
        counts = status_counts(session, [row.id for row in rows])
        return [project_info(row, counts[row.id]) for row in rows]


def get_project_info(db: Database, ref: int | str) -> ProjectInfo:
    """One project, by id or name, with its counts (NotFoundError if absent)."""
    with db.read() as session:
        row = resolve_project(session, ref)
        return project_info(row, status_counts(session, [row.id])[row.id])


# --------------------------------------------------------------------------- changes


def create_project(
    db: Database,
    *,
    actor: str,
    name: str,
    task_type: str,
    labels: list[str] | tuple[str, ...] | str,
    multi_label: bool = False,
    strategy: str = "auto",
    guidelines: str | None = None,
    settings: dict[str, Any] | None = None,
) -> ProjectInfo:
    """Create a project (audited as ``project.created``).

    Parameters
    ----------
    db : Database
    actor : str
        Who creates it (a user name or ``cli:<os user>``).
    name : str
        Unique, not a number (numbers name projects by id).
    task_type : str
        One of ``classification`` (text), ``tabular``, ``image``, ``audio``, ``video``,
        ``ner`` (entity spans) or ``boxes`` (boxes on images).
    labels : list of str, or a comma-separated str
        The label schema: non-empty, unique names without commas.
    multi_label : bool, default False
        Whether an item may carry several labels.
    strategy : str, default "auto"
        The selection strategy (see `labelloop.selection`).
    guidelines : str, optional
        Markdown; stored as guideline version 1.
    settings : dict, optional
        Overrides of `DEFAULT_SETTINGS`.

    Raises
    ------
    ValidationError
        Naming the field at fault.
    ConflictError
        If a project of that name exists.
    """
    name = check_name(name)
    if task_type not in TASK_TYPES:
        raise ValidationError(
            f"unknown task type {task_type!r}: use one of {', '.join(TASK_TYPES)}",
            field="task_type",
        )
    if not isinstance(multi_label, bool):
        raise ValidationError("multi_label must be true or false", field="multi_label")
    if task_type == "ner" and multi_label:
        raise ValidationError(
            "an entity project is not multi-label: its labels are its entity types",
            field="multi_label",
        )
    if task_type == "boxes" and multi_label:
        raise ValidationError(
            "a box project is not multi-label: each box carries one of its labels",
            field="multi_label",
        )
    # An entity or box project may have a single type, as a multi-label one may one label.
    structured = task_type in ("ner", "boxes")
    clean_labels = check_labels(labels, multi_label=multi_label or structured)
    strategy = check_strategy(strategy)
    overrides = check_project_settings(settings or {})
    check_trainable(strategy, overrides.get("model"), multi_label=multi_label, changed={"strategy"})
    if guidelines is not None:
        guidelines = check_guidelines(guidelines)
    with db.transaction() as session:
        if session.execute(select(ProjectRow.id).where(ProjectRow.name == name)).first():
            raise ConflictError(f"a project named {name!r} exists already")
        row = ProjectRow(
            name=name,
            task_type=task_type,
            labels=clean_labels,
            multi_label=multi_label,
            strategy=strategy,
            settings={**DEFAULT_SETTINGS, **overrides},
            guideline_version=0,
        )
        session.add(row)
        session.flush()
        if guidelines is not None:
            add_guideline_version(session, row, guidelines, actor)
        # The first event of the project's chain also creates its audit head row.
        append_event(
            session,
            project_id=row.id,
            actor=actor,
            action="project.created",
            target=f"project:{row.id}",
            after={
                "name": name,
                "task_type": task_type,
                "labels": clean_labels,
                "multi_label": multi_label,
                "strategy": strategy,
                "settings": row.settings,
                "guideline_version": row.guideline_version,
            },
        )
        return project_info(row)
