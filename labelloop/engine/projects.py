"""Projects: create, list, show, change settings and guidelines; validate labels.

A project is one labelling job: its task type, label schema, strategy, settings and
guideline versions. Every change is audited in the transaction that makes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

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
    "DEFAULT_SETTINGS",
    "REVIEW_POLICIES",
    "TASK_TYPES",
    "GuidelineInfo",
    "ProjectInfo",
    "create_project",
    "effective_settings",
    "get_guidelines",
    "get_project_info",
    "list_projects",
    "resolve_project",
    "review_policies",
    "set_guidelines",
    "update_settings",
    "validate_label",
]

TASK_TYPES: tuple[str, ...] = ("classification", "tabular", "image", "audio", "video")
REVIEW_POLICIES: tuple[str, ...] = (
    "none",
    "all",
    "percent",
    "model_disagrees",
    "annotators_disagree",
)

DEFAULT_SETTINGS: dict[str, Any] = {
    "batch_size": 20,
    "retrain_every": 50,  # new labels between retrains; 0 = only by hand
    "overlap": 1,  # annotations wanted per item
    "review_policy": "none",  # one of REVIEW_POLICIES, or a list of several (not "none")
    "review_percent": 10,  # share of annotations reviewed under the "percent" policy
    "lease_seconds": 600,
    "eval_share": 0.05,  # share of the pool set aside as the evaluation set
    "eval_min": 50,  # ... and at least this many items where the pool allows
    "show_model_guess": True,
    "model": None,  # None: built-in by task type; see labelloop.models.builtin.check_model_spec
    "media_root": None,  # the directory media items are stored relative to (set at import)
    "label_budget": None,  # labels the team can afford; status says stop once it is spent
}

_MAX_LABELS = 1000
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


def _check_labels(labels: Any, *, multi_label: bool) -> list[str]:
    if isinstance(labels, str):
        labels = labels.split(",")
    if not isinstance(labels, list | tuple):
        raise ValidationError("labels must be a list of names", field="labels")
    clean: list[str] = []
    for position, label in enumerate(labels, start=1):
        if not isinstance(label, str):
            raise ValidationError(
                f"label {position} is {type(label).__name__}, not a string", field="labels"
            )
        label = label.strip()
        if not label:
            raise ValidationError(f"label {position} is empty", field="labels")
        if "," in label:
            raise ValidationError(f"label {label!r} contains a comma", field="labels")
        if len(label) > _MAX_NAME:
            raise ValidationError(
                f"label {label[:40]!r}... is longer than {_MAX_NAME} characters", field="labels"
            )
        if label in clean:
            raise ValidationError(f"label {label!r} is given twice", field="labels")
        clean.append(label)
    minimum = 1 if multi_label else 2
    if len(clean) < minimum:
        raise ValidationError(
            f"a {'multi-label' if multi_label else 'single-label'} project needs at least "
            f"{minimum} labels, got {len(clean)}",
            field="labels",
        )
    if len(clean) > _MAX_LABELS:
        raise ValidationError(f"at most {_MAX_LABELS} labels", field="labels")
    return clean


def _int_setting(key: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"setting {key!r} must be an integer, got {value!r}", field=key)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValidationError(f"setting {key!r} must be {bound}, got {value}", field=key)
    return value


def _number_setting(key: str, value: Any, low: float, high: float, *, high_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"setting {key!r} must be a number, got {value!r}", field=key)
    if value < low or value > high or (high_open and value == high):
        bracket = ")" if high_open else "]"
        raise ValidationError(
            f"setting {key!r} must be in [{low}, {high}{bracket}, got {value}", field=key
        )
    return value


def _review_policy(value: Any) -> str | list[str]:
    policies = [value] if isinstance(value, str) else value
    if not isinstance(policies, list | tuple) or not policies:
        raise ValidationError(
            "setting 'review_policy' must be a policy name or a list of them",
            field="review_policy",
        )
    clean: list[str] = []
    for policy in policies:
        if policy not in REVIEW_POLICIES:
            raise ValidationError(
                f"unknown review policy {policy!r}: use {', '.join(REVIEW_POLICIES)}",
                field="review_policy",
            )
        if policy not in clean:
            clean.append(policy)
    if "none" in clean and len(clean) > 1:
        raise ValidationError(
            "review policy 'none' cannot be combined with others", field="review_policy"
        )
    return clean[0] if len(clean) == 1 else clean


def _check_setting(key: str, value: Any) -> Any:
    if key == "batch_size":
        return _int_setting(key, value, 1, 100_000)
    if key == "retrain_every":
        return _int_setting(key, value, 0)
    if key == "overlap":
        return _int_setting(key, value, 1, 20)
    if key == "review_policy":
        return _review_policy(value)
    if key == "review_percent":
        return _number_setting(key, value, 0, 100, high_open=False)
    if key == "lease_seconds":
        return _int_setting(key, value, 1, 7 * 24 * 3600)
    if key == "eval_share":
        return _number_setting(key, value, 0, 1, high_open=True)
    if key == "eval_min":
        return _int_setting(key, value, 0)
    if key == "show_model_guess":
        if not isinstance(value, bool):
            raise ValidationError(
                f"setting 'show_model_guess' must be true or false, got {value!r}", field=key
            )
        return value
    if key == "model":
        # Imported here: the model layer pulls in scikit-learn, which the API loads lazily.
        from labelloop.models.builtin import check_model_spec

        check_model_spec(value)
        return value
    if key == "label_budget":
        return None if value is None else _int_setting(key, value, 1)
    if key == "media_root":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValidationError("setting 'media_root' must be a directory path", field=key)
        return value
    raise ValidationError(
        f"unknown setting {key!r}: settings are {', '.join(['strategy', *DEFAULT_SETTINGS])}",
        field=key,
    )


def _check_settings(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise ValidationError("settings must be a mapping of name to value", field="settings")
    return {key: _check_setting(key, value) for key, value in changes.items()}


def effective_settings(project: ProjectRow) -> dict[str, Any]:
    """The project's settings over the defaults (a copy: changing it changes nothing)."""
    return {**DEFAULT_SETTINGS, **(project.settings or {})}


def review_policies(settings: dict[str, Any]) -> tuple[str, ...]:
    """The review policies in force, as a tuple (empty for ``"none"``)."""
    value = settings.get("review_policy", "none")
    policies = (value,) if isinstance(value, str) else tuple(value)
    return tuple(p for p in policies if p != "none")


def validate_label(
    project_row: ProjectRow, label: Any = None, labels: Any = None
) -> str | list[str]:
    """Check a label against the project's schema and return its stored JSON form.

    Parameters
    ----------
    project_row : ProjectRow
        The project (its ``labels`` and ``multi_label``).
    label : str, optional
        The label of a single-label project.
    labels : list of str, optional
        The labels of a multi-label project (may be empty: none applies).

    Returns
    -------
    str or list of str
        The label for a single-label project; the sorted, de-duplicated labels for a
        multi-label one.

    Raises
    ------
    ValidationError
        With ``field="label"`` when the label is missing, of the wrong kind or unknown.
    """
    known = project_row.labels
    if project_row.multi_label:
        if label is not None:
            raise ValidationError(
                "this project is multi-label: give 'labels' as a list", field="label"
            )
        if not isinstance(labels, list | tuple):
            raise ValidationError(
                "this project is multi-label: 'labels' must be a list of label names",
                field="label",
            )
        for name in labels:
            if not isinstance(name, str) or name not in known:
                raise ValidationError(
                    f"unknown label {name!r}: the project's labels are {', '.join(known)}",
                    field="label",
                )
        return sorted(set(labels))
    if labels is not None:
        raise ValidationError("this project is single-label: give one 'label'", field="label")
    if not isinstance(label, str):
        raise ValidationError(
            f"a label must be one of {', '.join(known)}, got {label!r}", field="label"
        )
    if label not in known:
        raise ValidationError(
            f"unknown label {label!r}: the project's labels are {', '.join(known)}",
            field="label",
        )
    return label


# --------------------------------------------------------------------------- lookups


def resolve_project(session: Session, ref: int | str) -> ProjectRow:
    """The project with id or name ``ref`` (a string of digits is taken as an id).

    Raises
    ------
    NotFoundError
        Naming ``ref`` when there is no such project.
    """
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise ValidationError(f"a project is named by id or name, got {ref!r}", field="project")
    if isinstance(ref, int) or ref.strip().isdigit():
        row = session.get(ProjectRow, int(ref))
    else:
        row = session.execute(
            select(ProjectRow).where(ProjectRow.name == ref.strip())
        ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no project {ref!r}: see `labelloop project list`")
    return row


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


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


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
        created_at=_aware(row.created_at),
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
    clean_labels = _check_labels(labels, multi_label=multi_label)
    strategy = _check_strategy(strategy)
    overrides = _check_settings(settings or {})
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
    # Imported here: the annotate module imports this one.
    from labelloop.engine.annotate import VOTING_SOURCES, settle_item

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
            created_at=_aware(found.created_at),
        )
