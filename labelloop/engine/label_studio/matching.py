"""How a Label Studio project meets a labelloop project: its control, and its tasks as items.

Rules
-----
1. The control: the first ``<Choices>`` of the label config (in document order) that
   holds every label of the labelloop project and, for a multi-label project, has
   ``choice="multiple"``. A single-label project may use a multiple-choice control (one
   value is a valid answer). Extra choices the project does not know are allowed: they
   are never predicted, and an annotation using one is refused.
2. No control fits: `ValidationError` (field ``label_config``) naming what is missing
   (the labels absent from each ``<Choices>``, or the single/multiple mismatch), or, with
   no ``<Choices>`` at all, the unsupported control tags found.
3. The label config labelloop suggests for a project (`project_label_config`) is one
   ``<Text>`` showing the field the project's model reads (its ``model.text_field``,
   default ``text``) and one ``<Choices>`` with the project's labels, in order.
5. An entity (``ner``) project's control is the first ``<Labels>`` over a ``<Text>``, a
   box project's the first ``<RectangleLabels>`` over an ``<Image>``, that holds every
   label of the project (`choose_region_control`); extra labels are allowed, and a
   result using one is refused. No control fits: `ValidationError` (field
   ``label_config``) naming the control tags found, or the labels each lacks.
4. A task is the item whose external id is ``task.data[id_field]`` when the project's
   ``label_studio_id_field`` setting names a field, else ``ls-<task id>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.io.label_studio import (
    ChoicesControl,
    RegionControl,
    label_config_for,
    parse_label_config,
    span_label_config_for,
)
from labelloop.store.db import Database

__all__ = [
    "ID_PREFIX",
    "REGION_KINDS",
    "choose_any_control",
    "choose_control",
    "choose_region_control",
    "project_label_config",
    "task_external_id",
]

#: Region projects: task type -> (control tag, result type, object tag it labels).
REGION_KINDS = {
    "ner": ("Labels", "labels", "text"),
    "boxes": ("RectangleLabels", "rectanglelabels", "image"),
}

#: External ids of items made from Label Studio tasks without an id field: ls-<task id>.
ID_PREFIX = "ls-"
_FIELD = "label_config"


def _mismatch(control: ChoicesControl, labels: Sequence[str], multi_label: bool) -> str | None:
    missing = [label for label in labels if label not in control.choices]
    if missing:
        return f"<Choices name={control.name!r}> lacks {', '.join(map(repr, missing))}"
    if multi_label and not control.multiple:
        return (
            f"<Choices name={control.name!r}> is single choice; the project is multi-label: "
            'set choice="multiple"'
        )
    return None


def choose_control(
    label_config: str, *, labels: Sequence[str], multi_label: bool
) -> ChoicesControl:
    """The ``<Choices>`` control that carries the project's labels (rules 1 and 2).

    Parameters
    ----------
    label_config : str
        The Label Studio project's label config (XML).
    labels : sequence of str
        The labelloop project's labels.
    multi_label : bool
        Whether the labelloop project is multi-label.

    Raises
    ------
    ValidationError
        The config cannot be read, or no control fits (``field="label_config"``).

    Examples
    --------
    >>> xml = ('<View><Text name="t" value="$text"/><Choices name="s" toName="t">'
    ...        '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
    >>> choose_control(xml, labels=["pos", "neg"], multi_label=False).name
    's'
    """
    config = parse_label_config(label_config)
    if not config.choices:
        found = ", ".join(config.unsupported) or "no control tags"
        raise ValidationError(
            "label config has no <Choices> control: labelloop fills <Choices> only "
            f"(single or multiple), and this config has {found}",
            field=_FIELD,
        )
    reasons = []
    for control in config.choices:
        reason = _mismatch(control, labels, multi_label)
        if reason is None:
            return control
        reasons.append(reason)
    raise ValidationError(
        f"label config does not match the project's labels ({', '.join(labels)}): "
        + "; ".join(reasons),
        field=_FIELD,
    )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def choose_region_control(
    label_config: str, *, task_type: str, labels: Sequence[str]
) -> RegionControl:
    """The ``<Labels>`` or ``<RectangleLabels>`` control of an entity or box project (rule 5).

    Raises
    ------
    ValidationError
        The config cannot be read, or no control fits (``field="label_config"``).

    Examples
    --------
    >>> xml = ('<View><Text name="t" value="$text"/><Labels name="e" toName="t">'
    ...        '<Label value="PER"/></Labels></View>')
    >>> choose_region_control(xml, task_type="ner", labels=["PER"]).name
    'e'
    """
    tag, result_type, object_tag = REGION_KINDS[task_type]
    config = parse_label_config(label_config)
    found = [c for c in config.regions if c.type == result_type]
    if not found:
        others = ", ".join([f"Choices {c.name}" for c in config.choices] + list(config.unsupported))
        raise ValidationError(
            f"label config has no <{tag}> control: a {task_type} project fills <{tag}> "
            f"over {_article(object_tag)} <{object_tag.title()}>, and this config has "
            f"{others or 'no control tags'}",
            field=_FIELD,
        )
    reasons = []
    for control in found:
        if control.object_tag != object_tag:
            reasons.append(
                f"<{tag} name={control.name!r}> labels a <{control.object_tag}>, "
                f"not {_article(object_tag)} <{object_tag.title()}>"
            )
            continue
        missing = [label for label in labels if label not in control.labels]
        if missing:
            reasons.append(f"<{tag} name={control.name!r}> lacks {', '.join(map(repr, missing))}")
            continue
        return control
    raise ValidationError(
        f"label config does not match the project's labels ({', '.join(labels)}): "
        + "; ".join(reasons),
        field=_FIELD,
    )


def choose_any_control(
    label_config: Any, *, task_type: str, labels: Sequence[str], multi_label: bool
) -> ChoicesControl | RegionControl:
    """The control a project's results fill: `choose_region_control` for entity and box
    projects, `choose_control` for the others."""
    if task_type in REGION_KINDS:
        return choose_region_control(label_config, task_type=task_type, labels=labels)
    return choose_control(label_config, labels=labels, multi_label=multi_label)


def task_external_id(task: Mapping[str, Any], *, id_field: str | None, where: str) -> str:
    """The external id of the item a task is (rule 4); ``where`` names the task in errors.

    Examples
    --------
    >>> task_external_id({"id": 7, "data": {"text": "hi"}}, id_field=None, where="tasks.0")
    'ls-7'
    """
    if id_field:
        data = task.get("data")
        value = data.get(id_field) if isinstance(data, Mapping) else None
        if value is None or isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError(
                f"{where}.data.{id_field}: the task has no id in field {id_field!r} "
                "(the project's label_studio_id_field setting)",
                field=f"{where}.data.{id_field}",
            )
        return str(value)
    task_id = task.get("id")
    if isinstance(task_id, bool) or not isinstance(task_id, int | str) or task_id == "":
        raise ValidationError(f"{where}.id: a task needs its Label Studio id", field=f"{where}.id")
    return f"{ID_PREFIX}{task_id}"


def project_label_config(db: Database, project: int | str) -> str:
    """The Label Studio label config that fits a labelloop project (rule 3).

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.
    """
    with db.read() as session:
        row = resolve_project(session, project)
        if row.task_type == "boxes":
            from labelloop.io.label_studio import box_label_config_for

            return box_label_config_for(list(row.labels))
        spec = (row.settings or {}).get("model")
        text_field = spec.get("text_field", "text") if isinstance(spec, Mapping) else "text"
        if row.task_type == "ner":
            return span_label_config_for(list(row.labels), text_field=text_field)
        return label_config_for(
            list(row.labels), multi_label=row.multi_label, text_field=text_field
        )
