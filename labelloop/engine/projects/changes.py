"""Changing a project's settings (and strategy): checked, audited, a new overlap applied."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import VOTING_SOURCES, refit_consensus, settle_item
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.engine.projects.catalog import ProjectInfo, project_info, status_counts
from labelloop.engine.projects.checks import check_project_settings, check_strategy, check_trainable
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ProjectRow,
    TaskRow,
    utcnow,
)

__all__ = ["update_settings"]


def update_settings(
    db: Database, *, actor: str, project: int | str, changes: dict[str, Any]
) -> ProjectInfo:
    """Change some settings (and/or ``strategy``); audited as ``settings.changed``.

    Every key and value is validated before anything changes; an unknown key is
    rejected naming it. The event records the changed keys' values before and after.
    A new ``overlap`` applies to the items still open in the same transaction: each
    needs the overlap less the votes it holds, and one that has enough is settled.
    A new ``consensus`` settles again, in the same transaction, the labelled items with
    votes from two or more annotators (under ``dawid_skene`` by a fit made now).
    """
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("give at least one setting to change", field="settings")
    changes = dict(changes)
    new_strategy = check_strategy(changes.pop("strategy")) if "strategy" in changes else None
    clean = check_project_settings(changes)
    with db.transaction() as session:
        row = resolve_project(session, project)
        current = effective_settings(row)
        if new_strategy is not None or "model" in clean:
            check_trainable(
                new_strategy or row.strategy,
                clean.get("model", current["model"]),
                multi_label=row.multi_label,
                changed=set(clean) | ({"strategy"} if new_strategy else set()),
            )
        before = {key: current.get(key) for key in clean}
        after = dict(clean)
        if new_strategy is not None:
            before["strategy"] = row.strategy
            after["strategy"] = new_strategy
            row.strategy = new_strategy
        row.settings = {**current, **clean}
        if "overlap" in clean and clean["overlap"] != current["overlap"]:
            _apply_overlap(session, row, clean["overlap"])
        if clean.get("consensus", current["consensus"]) != current["consensus"]:
            # Items already labelled are settled again by the method now in force.
            refit_consensus(session, row, actor=actor)
        append_event(
            session,
            project_id=row.id,
            actor=actor,
            action="settings.changed",
            target=f"project:{row.id}",
            before=before,
            after=after,
        )
        session.flush()
        return project_info(row, status_counts(session, [row.id])[row.id])


def _apply_overlap(session: Session, project: ProjectRow, overlap: int) -> None:
    """Re-count what the project's open label tasks need under a new overlap.

    An open task needs the overlap less the votes its item holds already (the importer
    set ``needed`` to the overlap in force then). A task that needs none any more is done,
    and its item is settled by the final-label rule; items already final keep their label.
    """
    votes = (
        select(func.count(AnnotationRow.id))
        .where(
            AnnotationRow.item_id == TaskRow.item_id,
            AnnotationRow.status == "active",
            AnnotationRow.source.in_(VOTING_SOURCES),
        )
        .scalar_subquery()
    )
    open_tasks = (
        TaskRow.project_id == project.id,
        TaskRow.queue == "label",
        TaskRow.status == "open",
    )
    session.execute(
        update(TaskRow)
        .where(*open_tasks)
        .values(needed=case((votes < overlap, overlap - votes), else_=0))
        .execution_options(synchronize_session=False)
    )
    now = utcnow()
    finished = session.execute(
        select(TaskRow, ItemRow)
        .join(ItemRow, ItemRow.id == TaskRow.item_id)
        .where(*open_tasks, TaskRow.needed <= 0)
        .execution_options(populate_existing=True)
    ).all()
    for task, item in finished:
        task.status = "done"
        task.updated_at = now
        settle_item(session, project=project, item=item, task=task)
