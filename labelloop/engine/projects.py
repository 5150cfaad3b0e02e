"""Projects: create, list, show, change settings and guidelines; validate labels.

A project is one labelling job: its task type, label schema, strategy, settings and
guideline versions. Every change is audited in the transaction that makes it.

Settings that can never train are refused when set, naming the setting changed: a
``model`` the model layer cannot build or that gives no ``predict_proba``, and a
committee strategy (`labelloop.selection.COMMITTEE_STRATEGIES`) with a model that gives
no member probabilities (`labelloop.models.spec.gives_members`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import VOTING_SOURCES, settle_item
from labelloop.engine.core.project import TASK_TYPES, resolve_project
from labelloop.engine.core.schema import check_labels
from labelloop.engine.core.settings import DEFAULT_SETTINGS, check_settings, effective_settings
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    GuidelineVersionRow,
    ItemRow,
    MembershipRow,
    ProjectRow,
    TaskRow,
    utcnow,
)

__all__ = [
    "GuidelineInfo",
    "ProjectInfo",
    "create_project",
    "get_guidelines",
    "get_project_info",
    "list_projects",
    "set_guidelines",
    "update_settings",
]

_MAX_NAME = 200


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


@dataclass(frozen=True)
class GuidelineInfo:
    """One version of a project's guidelines (Markdown)."""

    project_id: int
    version: int
    text: str
    created_by: str
    created_at: dt.datetime


# --------------------------------------------------------------------------- validation


def _check_strategy(name: Any) -> str:
    # Imported here: the selection layer loads scikit-learn, which most commands never need.
    from labelloop.selection import check_strategy

    return check_strategy(name)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("a project name must be a non-empty string", field="name")
    name = name.strip()
    if len(name) > _MAX_NAME:
        raise ValidationError(f"a project name has at most {_MAX_NAME} characters", field="name")
    if name.isdigit():
        raise ValidationError(
            f"project name {name!r} is a number: numbers refer to project ids, pick a word",
            field="name",
        )
    return name


def _check_settings(changes: Any) -> dict[str, Any]:
    clean = check_settings(changes)
    if clean.get("model") is not None:
        # Imported here: the model layer pulls in scikit-learn, which the API loads lazily.
        from labelloop.models.spec import check_model_spec

        check_model_spec(clean["model"])
    return clean


def _check_trainable(strategy: str, model: Any, *, multi_label: bool, changed: set[str]) -> None:
    """Refuse a committee strategy with a model that cannot serve it, naming what changed."""
    # Imported here: the selection and model layers load scikit-learn.
    from labelloop.models.spec import gives_members
    from labelloop.selection import COMMITTEE_STRATEGIES

    if strategy not in COMMITTEE_STRATEGIES or gives_members(model, multi_label=multi_label):
        return
    field = "strategy" if "strategy" in changed or "model" not in changed else "model"
    model_text = "the default model" if model is None else f"model {model!r}"
    if multi_label:
        model_text += " of a multi-label project"
    raise ValidationError(
        f"setting {field!r}: strategy {strategy!r} needs a committee or sampled "
        f"predictions, which {model_text} cannot give: "
        "set model to an ensemble such as sklearn.ensemble:RandomForestClassifier, "
        "or pick another strategy",
        field=field,
    )


# --------------------------------------------------------------------------- lookups


def _status_counts(session: Session, project_ids: list[int]) -> dict[int, dict[str, int]]:
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


def _info(row: ProjectRow, counts: dict[str, int] | None = None) -> ProjectInfo:
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
        counts = _status_counts(session, [row.id for row in rows])
        return [_info(row, counts[row.id]) for row in rows]


def get_project_info(db: Database, ref: int | str) -> ProjectInfo:
    """One project, by id or name, with its counts (NotFoundError if absent)."""
    with db.read() as session:
        row = resolve_project(session, ref)
        return _info(row, _status_counts(session, [row.id])[row.id])


# --------------------------------------------------------------------------- changes


def _add_guidelines(session: Session, project: ProjectRow, text: str, actor: str) -> int:
    version = project.guideline_version + 1
    session.add(
        GuidelineVersionRow(project_id=project.id, version=version, text=text, created_by=actor)
    )
    project.guideline_version = version
    return version


def _check_guidelines(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("guidelines must be non-empty Markdown text", field="guidelines")
    return text


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
        One of ``classification`` (text), ``tabular``, ``image``, ``audio``, ``video``.
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
    name = _check_name(name)
    if task_type not in TASK_TYPES:
        raise ValidationError(
            f"unknown task type {task_type!r}: use one of {', '.join(TASK_TYPES)}",
            field="task_type",
        )
    if not isinstance(multi_label, bool):
        raise ValidationError("multi_label must be true or false", field="multi_label")
    clean_labels = check_labels(labels, multi_label=multi_label)
    strategy = _check_strategy(strategy)
    overrides = _check_settings(settings or {})
    _check_trainable(
        strategy, overrides.get("model"), multi_label=multi_label, changed={"strategy"}
    )
    if guidelines is not None:
        guidelines = _check_guidelines(guidelines)
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
            _add_guidelines(session, row, guidelines, actor)
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
        return _info(row)


def update_settings(
    db: Database, *, actor: str, project: int | str, changes: dict[str, Any]
) -> ProjectInfo:
    """Change some settings (and/or ``strategy``); audited as ``settings.changed``.

    Every key and value is validated before anything changes; an unknown key is
    rejected naming it. The event records the changed keys' values before and after.
    A new ``overlap`` applies to the items still open in the same transaction: each
    needs the overlap less the votes it holds, and one that has enough is settled.
    """
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("give at least one setting to change", field="settings")
    changes = dict(changes)
    new_strategy = _check_strategy(changes.pop("strategy")) if "strategy" in changes else None
    clean = _check_settings(changes)
    with db.transaction() as session:
        row = resolve_project(session, project)
        current = effective_settings(row)
        if new_strategy is not None or "model" in clean:
            _check_trainable(
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
        return _info(row, _status_counts(session, [row.id])[row.id])


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


def set_guidelines(db: Database, *, actor: str, project: int | str, text: str) -> int:
    """Store a new guideline version (Markdown) and return its number; audited."""
    text = _check_guidelines(text)
    with db.transaction() as session:
        row = resolve_project(session, project)
        before = row.guideline_version
        version = _add_guidelines(session, row, text, actor)
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
