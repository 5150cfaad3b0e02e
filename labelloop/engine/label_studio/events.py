"""The webhook events Label Studio sends its ML backend, read into what labelloop records.

Rules
-----
1. ``ANNOTATION_CREATED`` and ``ANNOTATION_UPDATED`` carry ``annotation`` (its ``id``,
   ``result``, ``was_cancelled``), ``task`` (``id``, ``data``) and ``project``
   (``label_config``). The label is the ``choices`` result of the chosen control
   (`matching.choose_control` on the event's label config; any ``choices`` result when
   the event has none): one value for a single-label project, the list for a
   multi-label one. A value that is not one of the project's labels is refused
   (`ValidationError` naming ``annotation.result.<i>.value.choices``).
2. Each Label Studio annotation is one labelloop annotator, ``label-studio:annotation-<id>``
   (`annotation_actor`): an update replaces that annotation's earlier label, and the
   annotations of several Label Studio users on one task count as overlap.
3. A skipped annotation (``was_cancelled``) or one without a value for the control
   withdraws that annotation's label (``action="withdraw"``), as does
   ``ANNOTATIONS_DELETED`` (or ``ANNOTATION_DELETED``), which names only annotation ids.
4. ``START_TRAINING`` asks for a retrain (``action="train"``); any other event is
   acknowledged and ignored (``action="ignore"``), as the ML backend SDK does.
5. A task labelloop does not hold yet becomes an item with the task's data as its
   payload; when the data has no ``text`` field, the field the control's object tag
   shows (``value="$review"``) is copied to ``text``, the field text items carry.
6. Entity (``ner``) and box projects: the label is the annotation's ``labels`` (spans) or
   ``rectanglelabels`` (boxes) results of the chosen control
   (`matching.choose_region_control`; every result of that type when the event has no
   label config), read by the file importer's converters
   (`labelloop.io.label_studio_json.SpanResults` and ``RectangleResults``): offsets and
   ``value.text`` checked against the text, percent coordinates turned into pixels of
   ``original_width``/``original_height``. An annotation with none is a label too: no
   entity, no box. A label the project does not have, or a malformed result, is refused
   naming ``annotation.result.<i>`` and the field. Results of other controls are
   ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelloop.engine.label_studio.matching import (
    REGION_KINDS,
    choose_control,
    choose_region_control,
    task_external_id,
)
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.io import FieldNames

__all__ = ["ITEM_FIELDS", "TRAINING_EVENTS", "AnnotationEvent", "annotation_actor", "read_event"]

#: How a task becomes an import record: every data key is payload; the importer's own
#: fields get names task data does not use.
ITEM_FIELDS = FieldNames(
    id="labelloop:id", label="labelloop:label", labels="labelloop:labels", meta="labelloop:meta"
)

#: The events an ML backend trains from, as Label Studio names them.
TRAINING_EVENTS = (
    "ANNOTATION_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATION_DELETED",
    "ANNOTATIONS_DELETED",
    "START_TRAINING",
)
_ACTOR_PREFIX = "label-studio:annotation-"


def annotation_actor(annotation_id: Any) -> str:
    """The labelloop annotator of one Label Studio annotation (rule 2)."""
    return f"{_ACTOR_PREFIX}{annotation_id}"


@dataclass(frozen=True)
class AnnotationEvent:
    """A webhook event, read.

    Attributes
    ----------
    action : {"label", "withdraw", "train", "ignore"}
        What labelloop does with it.
    event : str
        Label Studio's name of the event.
    actors : tuple of str
        The annotators concerned (`annotation_actor`).
    external_id : str, optional
        The item (``label``).
    data : dict, optional
        The task's data: the item's payload if labelloop does not hold it yet.
    label, labels : optional
        The label (single-label project) or labels (multi-label); an entity project's
        spans or a box project's boxes are the ``label``.
    """

    action: str
    event: str
    actors: tuple[str, ...] = ()
    external_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    label: Any = None
    labels: list[str] | None = None

    def item_record(self) -> dict[str, Any]:
        """The task as a record for `labelloop.engine.ingest.import_items` with
        ``fields=ITEM_FIELDS``: the item, without its label."""
        return {ITEM_FIELDS.id: self.external_id, **self.data}


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be an object", field=where)
    return value


def _annotation_id(annotation: Mapping[str, Any], where: str) -> Any:
    value = annotation.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise ValidationError(f"{where}.id: the annotation's id is missing", field=f"{where}.id")
    return value


def _chosen(
    results: Any, *, control_name: str | None, labels: Sequence[str]
) -> tuple[list[str] | None, str]:
    """The values of the control's choices result, or None when it has none."""
    if not isinstance(results, list):
        raise ValidationError("annotation.result must be a list", field="annotation.result")
    for index, result in enumerate(results):
        where = f"annotation.result.{index}"
        if not isinstance(result, Mapping) or result.get("type") != "choices":
            continue
        if control_name is not None and result.get("from_name") != control_name:
            continue
        value = result.get("value")
        choices = value.get("choices") if isinstance(value, Mapping) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise ValidationError(
                f"{where}.value.choices must be a list of strings",
                field=f"{where}.value.choices",
            )
        unknown = [c for c in choices if c not in labels]
        if unknown:
            raise ValidationError(
                f"{where}.value.choices: {', '.join(map(repr, unknown))} is not a label of "
                f"the project ({', '.join(labels)})",
                field=f"{where}.value.choices",
            )
        return (choices or None), where
    return None, "annotation.result"


class _EventPlace:
    """Errors of the file converters, naming the annotation's field instead of a file."""

    path = None
    number = None

    def __call__(self, message: str, field: str) -> ImportDataError:
        return ImportDataError(message, field=field)


_RESULT_INDEX = re.compile(r"annotation\.result\.(\d+)")


def _regions(
    results: Any,
    *,
    task_type: str,
    control_name: str | None,
    labels: Sequence[str],
    data: Mapping[str, Any],
    data_key: str,
) -> list[dict[str, Any]]:
    """The spans or boxes of an annotation's results (rule 6)."""
    from labelloop.io.label_studio_json import RectangleResults, SpanResults

    if not isinstance(results, list):
        raise ValidationError("annotation.result must be a list", field="annotation.result")
    _tag, result_type, _object_tag = REGION_KINDS[task_type]
    value_key = "labels" if result_type == "labels" else "rectanglelabels"
    kept: list[Mapping[str, Any]] = []
    places: list[int] = []  # original index of each kept result
    for index, result in enumerate(results):
        if not isinstance(result, Mapping) or result.get("type") != result_type:
            continue
        if control_name is not None and result.get("from_name") != control_name:
            continue
        value = result.get("value")
        names = value.get(value_key) if isinstance(value, Mapping) else None
        where = f"annotation.result.{index}.value.{value_key}"
        if isinstance(names, list):
            unknown = [n for n in names if isinstance(n, str) and n not in labels]
            if unknown:
                raise ValidationError(
                    f"{where}: {', '.join(map(repr, unknown))} is not a label of the project "
                    f"({', '.join(labels)})",
                    field=where,
                )
        kept.append(result)
        places.append(index)
    if not kept:
        return []
    if task_type == "ner":
        kind: Any = SpanResults(data_key=data_key)
        record: dict[str, Any] = {data_key: data.get(data_key)}
        if not isinstance(record[data_key], str):
            raise ValidationError(
                f"task.data.{data_key}: the task's text is missing, which spans are offsets in",
                field=f"task.data.{data_key}",
            )
    else:
        kind = RectangleResults()
        record = {
            axis: data[axis]
            for axis in ("width", "height")
            if isinstance(data.get(axis), int) and not isinstance(data.get(axis), bool)
        }

    def original(match: re.Match[str]) -> str:
        position = int(match.group(1))
        return f"annotation.result.{places[position] if position < len(places) else position}"

    try:
        return list(kind.read(kept, record, "annotation", _EventPlace()))
    except ImportDataError as error:
        field = _RESULT_INDEX.sub(original, error.field or "annotation.result")
        message = _RESULT_INDEX.sub(original, str(error))
        raise ValidationError(message, field=field) from None


def read_event(
    payload: Any,
    *,
    labels: Sequence[str],
    multi_label: bool,
    id_field: str | None,
    task_type: str = "classification",
) -> AnnotationEvent:
    """Read a webhook event (rules 1 to 4).

    Parameters
    ----------
    payload : dict
        The request body Label Studio sent to ``/webhook``.
    labels : sequence of str
        The labelloop project's labels.
    multi_label : bool
        Whether it is multi-label.
    id_field : str or None
        The project's ``label_studio_id_field`` setting (`matching.task_external_id`).
    task_type : str
        The project's: ``ner`` and ``boxes`` read spans and boxes (rule 6).

    Raises
    ------
    ValidationError
        A malformed event, naming the field.
    """
    body = _object(payload, "body")
    event = body.get("action")
    if not isinstance(event, str) or not event:
        raise ValidationError("action: the event's name is missing", field="action")
    if event == "START_TRAINING":
        return AnnotationEvent(action="train", event=event)
    if event in ("ANNOTATIONS_DELETED", "ANNOTATION_DELETED"):
        deleted = body.get("annotations", [body.get("annotation")])
        if not isinstance(deleted, list):
            raise ValidationError("annotations must be a list", field="annotations")
        actors = tuple(
            annotation_actor(_annotation_id(_object(a, f"annotations.{i}"), f"annotations.{i}"))
            for i, a in enumerate(deleted)
        )
        return AnnotationEvent(action="withdraw", event=event, actors=actors)
    if event not in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        return AnnotationEvent(action="ignore", event=event)
    annotation = _object(body.get("annotation"), "annotation")
    task = _object(body.get("task"), "task")
    actor = annotation_actor(_annotation_id(annotation, "annotation"))
    project = body.get("project")
    config = project.get("label_config") if isinstance(project, Mapping) else None
    if task_type in REGION_KINDS:
        return _region_event(
            event, annotation, task, actor, config,
            task_type=task_type, labels=labels, id_field=id_field,
        )  # fmt: skip
    control = None
    if config:
        control = choose_control(config, labels=labels, multi_label=multi_label)
    control_name = control.name if control is not None else None
    chosen, where = _chosen(annotation.get("result", []), control_name=control_name, labels=labels)
    if annotation.get("was_cancelled") or chosen is None:
        return AnnotationEvent(action="withdraw", event=event, actors=(actor,))
    if not multi_label and len(chosen) != 1:
        raise ValidationError(
            f"{where}.value.choices: the project is single-label; choose one value",
            field=f"{where}.value.choices",
        )
    data = dict(_object(task.get("data"), "task.data"))
    shown = control.data_field if control is not None else None
    if ITEM_FIELDS.text not in data and shown in data:
        # The item's text is the field the control's object tag shows (rule 5).
        data[ITEM_FIELDS.text] = data[shown]
    return AnnotationEvent(
        action="label",
        event=event,
        actors=(actor,),
        external_id=task_external_id(task, id_field=id_field, where="task"),
        data=data,
        label=None if multi_label else chosen[0],
        labels=chosen if multi_label else None,
    )


def _region_event(
    event: str,
    annotation: Mapping[str, Any],
    task: Mapping[str, Any],
    actor: str,
    config: Any,
    *,
    task_type: str,
    labels: Sequence[str],
    id_field: str | None,
) -> AnnotationEvent:
    """An annotation of an entity or box project (rule 6)."""
    if annotation.get("was_cancelled"):
        return AnnotationEvent(action="withdraw", event=event, actors=(actor,))
    control = choose_region_control(config, task_type=task_type, labels=labels) if config else None
    data = dict(_object(task.get("data"), "task.data"))
    shown = control.data_field if control is not None else None
    if task_type == "ner" and ITEM_FIELDS.text not in data and shown in data:
        data[ITEM_FIELDS.text] = data[shown]  # rule 5
    regions = _regions(
        annotation.get("result", []),
        task_type=task_type,
        control_name=control.name if control is not None else None,
        labels=labels,
        data=data,
        data_key=ITEM_FIELDS.text,
    )
    return AnnotationEvent(
        action="label",
        event=event,
        actors=(actor,),
        external_id=task_external_id(task, id_field=id_field, where="task"),
        data=data,
        label=regions,
    )
