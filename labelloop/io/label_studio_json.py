"""Label Studio JSON tasks for every project, in and out: ``choices``, entity ``labels``
and box ``rectanglelabels``.

A file is a JSON array of tasks, ``{"id", "data", "meta", "annotations", "predictions"}``.
Each task is one record in the import's keys (`labelloop.io.records`):

1. ``data`` is the payload: ``data[data_key]`` the text, the other data fields payload
   fields; ``data[id_key]`` (else the task's ``id``) the record's id.
2. ``meta`` is the record's meta.
3. At most one annotation that is not cancelled; its results, all of the project's result
   kind (`RESULT_KINDS`: `ChoicesResults` for classification and tabular projects,
   `SpanResults` for entity projects, `RectangleResults` for box projects), give the
   label (``label``, ``labels`` for a multi-label project, ``spans`` for an entity
   project, ``boxes`` for a box project). No annotation: unlabelled.
4. What labelloop has no place for is kept under ``meta["label_studio"]``, so that a
   Label Studio project moves in and out without loss: the task's ``id`` when it is not
   the record's id, the annotation's other fields (``completed_by``, ``id``,
   ``created_at``, ``lead_time``, ...; ``completed_by`` is kept here, not mapped to a
   labelloop account, since imported labels are recorded as the importer's), the
   cancelled annotations, and the task's predictions (a Label Studio prediction holds a
   chosen label, not the class probabilities a labelloop prediction is).
5. The writer puts ``meta["label_studio"]`` back where it came from, adds the latest
   labelloop prediction of each item (``model_version``, ``score`` = its
   informativeness, each result's ``score`` = the chosen class's probability) and the
   export's provenance under the task key ``labelloop``, which Label Studio ignores;
   the reader drops both (they are derived, not imported), so an export reads back to the
   records it was written from.

Anything else the mapping cannot keep is refused rather than dropped, naming the file,
the task (its 1-based position, as the line) and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.io.label_studio_tasks import load_task_array
from labelloop.io.numbers import snap

__all__ = [
    "LS_META_KEY",
    "RESULT_KINDS",
    "ChoicesResults",
    "RectangleResults",
    "ResultKind",
    "SpanResults",
    "read_label_studio_tasks",
    "result_kind",
    "write_label_studio_tasks",
]

#: The meta key holding what Label Studio has and labelloop has no place for (rule 4).
LS_META_KEY = "label_studio"
_PROVENANCE_KEY = "labelloop"
_PROVENANCE = ("annotators", "reviewers", "label_source", "dataset_version")


class _Place:
    """Where a task is (file and 1-based task number), making the errors that name it."""

    def __init__(self, path: str, number: int) -> None:
        self.path, self.number = path, number

    def __call__(self, message: str, field: str) -> ImportDataError:
        return ImportDataError(message, path=self.path, line=self.number, field=field)


class ResultKind(Protocol):
    """How one Label Studio result type maps to a labelloop label.

    ``type`` is the result's ``type`` (the control tag in lower case).
    """

    type: str

    def read(
        self, results: list[Mapping[str, Any]], record: Mapping[str, Any], where: str, fail: _Place
    ) -> Any:
        """The label the results of one annotation give (``where`` names the annotation)."""

    def write(self, label: Any, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``value`` objects of the results that give ``label`` to ``record``."""

    def predict(self, probabilities: Mapping[str, float]) -> list[tuple[dict[str, Any], float]]:
        """``(value, score)`` per result of a prediction's class probabilities."""


class ChoicesResults:
    """``choices`` results: one value of ``choices`` per label.

    A single-label project needs exactly one choice; a multi-label one takes the union of
    the results' choices (none: labelled with no class).
    """

    type = "choices"

    def __init__(self, *, multi_label: bool = False) -> None:
        self.multi_label = multi_label

    def read(
        self, results: list[Mapping[str, Any]], record: Mapping[str, Any], where: str, fail: _Place
    ) -> Any:
        chosen: list[str] = []
        for i, item in enumerate(results):
            value = item.get("value")
            field = f"{where}.result.{i}.value.choices"
            if not isinstance(value, Mapping) or not isinstance(value.get("choices"), list):
                raise fail("a choices result needs value.choices, a list", field)
            for choice in value["choices"]:
                if not isinstance(choice, str):
                    raise fail(f"a choice must be a string, got {choice!r}", field)
                if choice not in chosen:
                    chosen.append(choice)
        if self.multi_label:
            return chosen
        if len(chosen) != 1:
            raise fail(
                f"a single-label project takes exactly one choice, got {chosen!r}",
                f"{where}.result",
            )
        return chosen[0]

    def write(self, label: Any, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"choices": list(label) if self.multi_label else [label]}]

    def predict(self, probabilities: Mapping[str, float]) -> list[tuple[dict[str, Any], float]]:
        if not probabilities:
            return []
        if self.multi_label:
            chosen = [name for name, p in probabilities.items() if p >= 0.5]
            confidence = min((probabilities[n] for n in chosen), default=0.0)
            return [({"choices": chosen}, float(confidence))]
        best = max(probabilities, key=lambda name: probabilities[name])
        return [({"choices": [best]}, float(probabilities[best]))]


class SpanResults:
    """``labels`` results: entity spans over the text, one entity type each.

    ``value.start``/``value.end`` are character offsets, ``value.text`` (when given) must
    be the text between them; spans are checked as `labelloop.ner.check_spans` does and
    sorted. A prediction's spans are not written (a labelloop prediction of an entity
    project holds no class probabilities).
    """

    type = "labels"

    def __init__(self, *, data_key: str = "text") -> None:
        self.data_key = data_key

    def read(
        self, results: list[Mapping[str, Any]], record: Mapping[str, Any], where: str, fail: _Place
    ) -> Any:
        from labelloop.io.label_studio_tasks import checked_spans, result_spans

        text = record.get(self.data_key)
        spans = result_spans({"result": results}, text, fail.path, fail.number, where)
        return checked_spans(spans, text, None, fail.path, fail.number, where)

    def write(self, label: Any, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        text = record["text"]
        return [
            {
                "start": span["start"],
                "end": span["end"],
                "text": text[span["start"] : span["end"]],
                "labels": [span["label"]],
            }
            for span in label
        ]

    def predict(self, probabilities: Mapping[str, float]) -> list[tuple[dict[str, Any], float]]:
        return []


def _number(value: Any, fail: _Place, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise fail(f"must be a number, got {value!r}", field)
    return float(value)


class RectangleResults:
    """``rectanglelabels`` results: boxes on an image, one class each.

    ``value.x``, ``value.y``, ``value.width`` and ``value.height`` are percentages of the
    image's ``original_width`` / ``original_height`` (on the result, else the task's
    ``data.width`` / ``data.height``); a box becomes ``{"bbox": [x1, y1, x2, y2],
    "label"}`` in pixels, snapped to 1e-6 pixel so written boxes read back exactly
    (`labelloop.io.numbers.snap`). A rotated box (``value.rotation`` not 0) is refused
    rather than straightened. The image's size is kept as ``width`` and ``height``; a
    result's size that differs from the task's is refused. A prediction's boxes keep
    their ``score``.
    """

    type = "rectanglelabels"

    def read(
        self, results: list[Mapping[str, Any]], record: Mapping[str, Any], where: str, fail: _Place
    ) -> Any:
        boxes = []
        for i, item in enumerate(results):
            field = f"{where}.result.{i}"
            value = item.get("value")
            if not isinstance(value, Mapping):
                raise fail("a rectanglelabels result needs a value object", f"{field}.value")
            names = value.get("rectanglelabels")
            if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
                raise fail(
                    f"a box takes exactly one label, got {names!r}",
                    f"{field}.value.rectanglelabels",
                )
            if _number(value.get("rotation", 0), fail, f"{field}.value.rotation") != 0:
                raise fail("a rotated box is not kept: boxes are axis-aligned",
                           f"{field}.value.rotation")  # fmt: skip
            size = []
            for axis, key in (("width", "original_width"), ("height", "original_height")):
                given = item.get(key)
                known = record.get(axis)
                if given is None and known is None:
                    raise fail(
                        f"percent coordinates need the image's {axis}: give {key}",
                        f"{field}.{key}",
                    )
                if given is not None:
                    given = _number(given, fail, f"{field}.{key}")
                    if known is not None and given != known:
                        raise fail(
                            f"{key} {given:g} differs from the image's {axis} {known}",
                            f"{field}.{key}",
                        )
                    if given <= 0 or given != int(given):
                        raise fail(f"{key} must be a positive whole number", f"{field}.{key}")
                    record[axis] = int(given)  # type: ignore[index]
                size.append(float(record[axis]))
            width, height = size
            x, y, w, h = (
                _number(value.get(key), fail, f"{field}.value.{key}")
                for key in ("x", "y", "width", "height")
            )
            x1, y1 = snap(x / 100 * width), snap(y / 100 * height)
            x2, y2 = snap((x + w) / 100 * width), snap((y + h) / 100 * height)
            boxes.append({"bbox": [x1, y1, x2, y2], "label": names[0]})
        return boxes

    def _size(self, record: Mapping[str, Any]) -> tuple[float, float]:
        width, height = record.get("width"), record.get("height")
        if not width or not height:
            raise ValidationError(
                f"item {record.get('id')!r} has no image size, which Label Studio's percent "
                "coordinates need: import it with its image file or its width and height",
                field="format",
            )
        return float(width), float(height)

    def extras(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The result's own keys: the image's size the percentages are of."""
        width, height = self._size(record)
        return {"original_width": int(width), "original_height": int(height), "image_rotation": 0}

    def _value(self, box: Mapping[str, Any], width: float, height: float) -> dict[str, Any]:
        x1, y1, x2, y2 = box["bbox"]
        return {
            "x": x1 / width * 100,
            "y": y1 / height * 100,
            "width": (x2 - x1) / width * 100,
            "height": (y2 - y1) / height * 100,
            "rotation": 0,
            "rectanglelabels": [box["label"]],
        }

    def write(self, label: Any, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        width, height = self._size(record)
        return [self._value(box, width, height) for box in label]

    def predict(self, probabilities: Mapping[str, float]) -> list[tuple[dict[str, Any], float]]:
        return []

    def predict_structure(
        self, boxes: list[Mapping[str, Any]], record: Mapping[str, Any]
    ) -> list[tuple[dict[str, Any], float]]:
        """A detector's pushed boxes as prediction results, each with its score."""
        width, height = self._size(record)
        return [(self._value(box, width, height), float(box["score"])) for box in boxes]


#: Result kinds by task type.
RESULT_KINDS: dict[str, type] = {
    "classification": ChoicesResults,
    "tabular": ChoicesResults,
    "ner": SpanResults,
    "boxes": RectangleResults,
}


def result_kind(task_type: str, *, multi_label: bool = False, data_key: str = "text") -> Any:
    """The result kind of a project's task type (`RESULT_KINDS`), ready to read and write.

    Raises
    ------
    ValidationError
        For a task type with no Label Studio mapping (field ``format``).

    Examples
    --------
    >>> result_kind("classification", multi_label=True).type
    'choices'
    """
    if task_type not in RESULT_KINDS:
        raise ValidationError(
            f"Label Studio tasks of {task_type} projects are not mapped yet: "
            f"use them for {', '.join(RESULT_KINDS)} projects",
            field="format",
        )
    kind = RESULT_KINDS[task_type]
    if kind is SpanResults:
        return SpanResults(data_key=data_key)
    if kind is ChoicesResults:
        return ChoicesResults(multi_label=multi_label)
    return kind()


def read_label_studio_tasks(
    path: str | Path,
    *,
    kind: ResultKind,
    data_key: str = "text",
    id_key: str = "id",
    label_key: str = "label",
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(task number, record)`` for each task of a Label Studio JSON file.

    Parameters
    ----------
    path : str or Path
        The JSON file (an array of tasks).
    kind : ResultKind
        The project's result kind, e.g. ``ChoicesResults(multi_label=False)``.
    data_key, id_key : str
        The data fields of the text and of the record's id.
    label_key : str
        The record key the label goes to (``label``, or ``labels`` for multi-label).

    Raises
    ------
    ImportDataError
        Naming the file, the task's 1-based position and the field at fault.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tasks.json"
    >>> task = {"data": {"id": "a", "text": "great"}, "annotations": [
    ...     {"result": [{"type": "choices", "value": {"choices": ["pos"]}}]}]}
    >>> _ = path.write_text(json.dumps([task]))
    >>> list(read_label_studio_tasks(path, kind=ChoicesResults()))
    [(1, {'text': 'great', 'id': 'a', 'meta': {}, 'label': 'pos'})]
    """
    name = str(path)
    tasks = load_task_array(path)
    for number, task in enumerate(tasks, start=1):
        yield number, _record(task, kind, data_key, id_key, label_key, _Place(name, number))


def _record(
    task: Any, kind: ResultKind, data_key: str, id_key: str, label_key: str, fail: _Place
) -> dict[str, Any]:
    if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping):
        raise fail("a task must be an object with a 'data' object", "data")
    record = dict(task["data"])
    for key in ("meta", "label", "labels", "spans", label_key, *_PROVENANCE):
        if key in record and key != id_key and key != data_key:
            raise fail(
                f"data.{key} would be read as the record's {key}: rename the data field",
                f"data.{key}",
            )
    if data_key in record and not isinstance(record[data_key], str):
        raise fail(f"the text must be a string, got {record[data_key]!r}", f"data.{data_key}")
    kept: dict[str, Any] = {}
    if record.get(id_key) is None:
        if task.get("id") is None:
            raise fail(f"a task needs data.{id_key} or an id", f"data.{id_key}")
        record[id_key] = task["id"]
    elif task.get("id") is not None:
        kept["id"] = task["id"]
    meta = task.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, Mapping):
        raise fail("meta must be an object", "meta")
    meta = dict(meta)
    if LS_META_KEY in meta:
        raise fail(f"meta.{LS_META_KEY} is where labelloop keeps Label Studio's fields", "meta")
    record["meta"] = meta
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list) or not all(isinstance(a, Mapping) for a in annotations):
        raise fail("annotations must be a list of objects", "annotations")
    active = [i for i, a in enumerate(annotations) if not a.get("was_cancelled")]
    if len(active) > 1:
        raise fail(
            f"{len(active)} annotations; import one per task (export the ground truth)",
            "annotations",
        )
    cancelled = [a for a in annotations if a.get("was_cancelled")]
    if cancelled:
        kept["cancelled_annotations"] = cancelled
    if active:
        where = f"annotations.{active[0]}"
        annotation = annotations[active[0]]
        results = annotation.get("result")
        if not isinstance(results, list):
            raise fail("an annotation needs a 'result' list", f"{where}.result")
        for i, item in enumerate(results):
            found = item.get("type") if isinstance(item, Mapping) else None
            if found != kind.type:
                raise fail(
                    f"a result of type {found!r}; this project keeps {kind.type!r} results",
                    f"{where}.result.{i}.type",
                )
        record[label_key] = kind.read(results, record, where, fail)
        others = {k: v for k, v in annotation.items() if k not in ("result", "was_cancelled")}
        if others:
            kept["annotation"] = others
    predictions = task.get("predictions") or []
    if not isinstance(predictions, list) or not all(isinstance(p, Mapping) for p in predictions):
        raise fail("predictions must be a list of objects", "predictions")
    provenance = task.get(_PROVENANCE_KEY)
    ours = provenance.get("model_version") if isinstance(provenance, Mapping) else None
    theirs = [p for p in predictions if ours is None or p.get("model_version") != ours]
    if theirs:
        kept["predictions"] = theirs
    if kept:
        meta[LS_META_KEY] = kept
    return record


def write_label_studio_tasks(
    records: Iterable[Mapping[str, Any]],
    handle: IO[str],
    *,
    kind: ResultKind,
    data_key: str = "text",
    id_key: str = "id",
    label_key: str = "label",
    from_name: str = "label",
    to_name: str = "text",
) -> int:
    """Write export records as a Label Studio JSON array of tasks; return how many.

    A record is in the import's keys plus the export's provenance; an optional
    ``prediction`` key, ``{"model_version": str, "score": float, "probabilities": {...}}``,
    becomes a prediction of the task (rule 5).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> write_label_studio_tasks([{"id": "a", "text": "great", "label": "pos", "meta": {}}],
    ...                          out, kind=ChoicesResults())
    1
    >>> json.loads(out.getvalue())[0]["annotations"][0]["result"][0]["value"]
    {'choices': ['pos']}
    """
    handle.write("[")
    count = 0
    for record in records:
        task = _task(record, kind, data_key, id_key, label_key, from_name, to_name)
        handle.write("\n" if count == 0 else ",\n")
        handle.write(json.dumps(task, ensure_ascii=False))
        count += 1
    handle.write("\n]\n")
    return count


def _task(
    record: Mapping[str, Any],
    kind: ResultKind,
    data_key: str,
    id_key: str,
    label_key: str,
    from_name: str,
    to_name: str,
) -> dict[str, Any]:
    skip = {"id", label_key, "meta", "prediction", *_PROVENANCE}
    data = {key: value for key, value in record.items() if key not in skip}
    if data_key != "text" and "text" in data:
        data[data_key] = data.pop("text")
    data[id_key] = record["id"]
    meta = dict(record.get("meta") or {})
    # Only what the reader kept is put back; anything else under the key stays in meta.
    kept = meta.pop(LS_META_KEY) if isinstance(meta.get(LS_META_KEY), Mapping) else {}
    task: dict[str, Any] = {}
    if "id" in kept:
        task["id"] = kept["id"]
    task["data"] = data
    task["meta"] = meta

    extras = getattr(kind, "extras", None)

    def results(values: list[tuple[dict[str, Any], float | None]]) -> list[dict[str, Any]]:
        out = []
        for i, (value, score) in enumerate(values):
            item = {
                "id": f"r{i}",
                "from_name": from_name,
                "to_name": to_name,
                "type": kind.type,
                **(extras(record) if extras is not None else {}),
                "value": value,
            }
            if score is not None:
                item["score"] = score
            out.append(item)
        return out

    annotations = []
    label = record.get(label_key)
    if label is not None:
        annotation = dict(_mapping(kept.get("annotation")))
        annotation["result"] = results([(value, None) for value in kind.write(label, record)])
        annotations.append(annotation)
    annotations.extend(_objects(kept.get("cancelled_annotations")))
    if annotations:
        task["annotations"] = annotations
    predictions = _objects(kept.get("predictions"))
    provenance = {key: record[key] for key in _PROVENANCE if key in record}
    prediction = record.get("prediction")
    if prediction:
        drawn = getattr(kind, "predict_structure", None)
        if drawn is not None and prediction.get("structure") is not None:
            values = drawn(prediction["structure"], record)
        else:
            values = kind.predict(prediction["probabilities"])
        predictions.append(
            {
                "model_version": prediction["model_version"],
                "score": prediction["score"],
                "result": results(values),
            }
        )
        provenance["model_version"] = prediction["model_version"]
    if predictions:
        task["predictions"] = predictions
    if provenance:
        task[_PROVENANCE_KEY] = provenance
    return task


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Any]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
