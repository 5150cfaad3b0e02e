"""Label Studio JSON for entity projects: tasks with ``labels`` results, in and out.

A file is a JSON array of tasks. Each task maps to one entity document:

- ``data[data_key]`` is the text; ``data["id"]`` (else the task's ``id``) the document id.
- ``annotations``: at most one annotation that is not cancelled; its ``result`` items of
  type ``labels`` are the spans (``value.start``, ``value.end``, ``value.labels`` with
  exactly one entity type; ``value.text``, when present, must be the text between the
  offsets). No annotation leaves the document unlabelled.
- ``predictions``: each becomes ``{"model_version", "score", "spans"}``, a span keeping its
  own ``score`` when it has one.

Anything this mapping cannot keep is refused rather than dropped, naming the file, the
task (its 1-based position, as the line) and the field: a result of another type
(relations, choices), a span with several labels, two annotations of one task.
Written tasks read back to the same documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from labelloop.exceptions import RECORDS_SOURCE, ImportDataError, ValidationError
from labelloop.io.entities import check_entity_document, check_entity_documents
from labelloop.ner import check_spans

__all__ = [
    "checked_spans",
    "load_task_array",
    "read_label_studio",
    "result_spans",
    "write_label_studio",
]


def load_task_array(path: str | Path) -> list[Any]:
    """The JSON array of tasks a Label Studio export file holds.

    Raises
    ------
    ImportDataError
        Naming the file (and the line, for malformed JSON) when it is not UTF-8, not JSON,
        or not an array.
    """
    name = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            tasks = json.load(handle)
    except UnicodeDecodeError as exc:
        raise ImportDataError(f"not UTF-8 text ({exc.reason})", path=name) from None
    except json.JSONDecodeError as exc:
        raise ImportDataError(
            f"malformed JSON: {exc.msg} at column {exc.colno}", path=name, line=exc.lineno
        ) from None
    if not isinstance(tasks, list):
        raise ImportDataError("a Label Studio file is a JSON array of tasks", path=name)
    return tasks


def read_label_studio(
    path: str | Path, *, data_key: str = "text", labels: Iterable[str] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(task number, document)`` for each task of a Label Studio JSON export.

    Raises
    ------
    ImportDataError
        Naming the file, the task's 1-based position and the field at fault.
    """
    name = str(path)
    tasks = load_task_array(path)
    allowed = None if labels is None else list(labels)
    for number, task in enumerate(tasks, start=1):
        yield number, _document(task, data_key, allowed, name, number)


def _fail(message: str, name: str, number: int, field: str | None = None) -> ImportDataError:
    return ImportDataError(message, path=name, line=number, field=field)


def _document(
    task: Any, data_key: str, labels: list[str] | None, name: str, number: int
) -> dict[str, Any]:
    if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping):
        raise _fail("a task must be an object with a 'data' object", name, number, "data")
    data = task["data"]
    text, identifier = data.get(data_key), data.get("id", task.get("id"))
    if not isinstance(text, str):
        raise _fail(f"the text must be a string, got {text!r}", name, number, f"data.{data_key}")
    if identifier is not None and not isinstance(identifier, str | int):
        raise _fail("the id must be a string or an integer", name, number, "data.id")
    document: dict[str, Any] = {"id": identifier, "text": text}
    given = task.get("annotations") or []
    if not isinstance(given, list):
        raise _fail("annotations must be a list", name, number, "annotations")
    kept = [
        i for i, a in enumerate(given) if not (isinstance(a, Mapping) and a.get("was_cancelled"))
    ]
    if len(kept) > 1:
        raise _fail(
            f"{len(kept)} annotations; import one per task (export the ground truth)",
            name,
            number,
            "annotations",
        )
    if kept:
        where = f"annotations.{kept[0]}"
        spans = result_spans(given[kept[0]], text, name, number, where)
        document["spans"] = checked_spans(spans, text, labels, name, number, where)
    predictions = task.get("predictions") or []
    if not isinstance(predictions, list):
        raise _fail("predictions must be a list", name, number, "predictions")
    if predictions:
        document["predictions"] = [
            _prediction(p, text, name, number, f"predictions.{i}")
            for i, p in enumerate(predictions)
        ]
    return check_entity_document(document, path=name, line=number)


def result_spans(
    container: Any, text: Any, name: str, number: int, where: str, *, scored: bool = False
) -> list[dict[str, Any]]:
    """The spans of ``container["result"]``, each result checked: its type, its value and
    single entity type, and ``value.text`` against the text; errors name the result."""
    result = container.get("result") if isinstance(container, Mapping) else None
    if not isinstance(result, list):
        raise _fail("must have a 'result' list", name, number, f"{where}.result")
    spans = []
    for i, item in enumerate(result):
        field = f"{where}.result.{i}"
        if not isinstance(item, Mapping) or item.get("type") != "labels":
            kind = item.get("type") if isinstance(item, Mapping) else None
            raise _fail(
                f"a result of type {kind!r}; only 'labels' results (entity spans) are kept",
                name,
                number,
                f"{field}.type",
            )
        value = item.get("value")
        if not isinstance(value, Mapping):
            raise _fail("a result needs a 'value' object", name, number, f"{field}.value")
        chosen = value.get("labels")
        if not isinstance(chosen, list) or len(chosen) != 1 or not isinstance(chosen[0], str):
            raise _fail(
                f"a span needs exactly one entity type, got {chosen!r}",
                name,
                number,
                f"{field}.value.labels",
            )
        start, end = value.get("start"), value.get("end")
        if (
            "text" in value
            and isinstance(text, str)
            and isinstance(start, int)
            and isinstance(end, int)
            and value["text"] != text[start:end]
        ):
            raise _fail(
                f"value.text {value['text']!r} is not the text between {start} and {end} "
                f"({text[start:end]!r})",
                name,
                number,
                f"{field}.value.text",
            )
        span: dict[str, Any] = {"start": start, "end": end, "label": chosen[0]}
        if scored and item.get("score") is not None:
            span["score"] = _score(item["score"], name, number, f"{field}.score")
        spans.append(span)
    return spans


def _score(value: Any, name: str, number: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"a score must be a number, got {value!r}", name, number, field)
    return float(value)


def checked_spans(
    spans: list[dict[str, Any]],
    text: str,
    labels: list[str] | None,
    name: str,
    number: int,
    where: str,
) -> list[dict[str, Any]]:
    """The spans sorted and checked; an error names the result it came from."""
    try:
        checked = check_spans(spans, text=text, labels=labels)
    except ValidationError as error:
        parts = (error.field or "spans").split(".")
        field = f"{where}.result"
        if len(parts) > 1:
            field += f".{parts[1]}"
        if len(parts) > 2:
            field += ".value." + {"label": "labels"}.get(parts[2], parts[2])
        raise _fail(str(error), name, number, field) from None
    scores = {(s["start"], s["end"], s["label"]): s.get("score") for s in spans}
    out = []
    for span in checked:
        entry = span.as_dict()
        if scores[tuple(span)] is not None:
            entry["score"] = scores[tuple(span)]
        out.append(entry)
    return out


def _prediction(prediction: Any, text: str, name: str, number: int, where: str) -> dict[str, Any]:
    spans = result_spans(prediction, text, name, number, where, scored=True)
    score = prediction.get("score")
    return {
        "model_version": prediction.get("model_version"),
        "score": None if score is None else _score(score, name, number, f"{where}.score"),
        "spans": checked_spans(spans, text, None, name, number, where)
        if isinstance(text, str)
        else spans,
    }


def write_label_studio(
    documents: Iterable[Mapping[str, Any]],
    handle: IO[str],
    *,
    data_key: str = "text",
    from_name: str = "label",
    to_name: str = "text",
) -> int:
    """Write entity documents as a Label Studio JSON array of tasks; return how many.

    A document's spans become its one annotation, its predictions the task's
    predictions (``score`` kept on each result and on the prediction).
    """
    tasks = []
    for index, document in enumerate(check_entity_documents(documents), start=1):
        text = document["text"]
        for j, prediction in enumerate(document.get("predictions") or []):
            if not isinstance(prediction, Mapping):
                raise _fail(
                    "a prediction must be an object", RECORDS_SOURCE, index, f"predictions.{j}"
                )
            checked_spans(
                prediction.get("spans", []), text, None, RECORDS_SOURCE, index, f"predictions.{j}"
            )

        def results(spans: list[dict[str, Any]], text: str = text) -> list[dict[str, Any]]:
            out = []
            for i, span in enumerate(spans):
                value = {
                    "start": span["start"],
                    "end": span["end"],
                    "text": text[span["start"] : span["end"]],
                    "labels": [span["label"]],
                }
                item = {
                    "id": f"s{i}",
                    "from_name": from_name,
                    "to_name": to_name,
                    "type": "labels",
                    "value": value,
                }
                if span.get("score") is not None:
                    item["score"] = span["score"]
                out.append(item)
            return out

        data: dict[str, Any] = {data_key: text}
        if document["id"] is not None:
            data["id"] = document["id"]
        task: dict[str, Any] = {"data": data}
        if "spans" in document:
            task["annotations"] = [{"result": results(document["spans"])}]
        if document.get("predictions"):
            task["predictions"] = [
                {
                    "model_version": p.get("model_version"),
                    "score": p.get("score"),
                    "result": results(p.get("spans", [])),
                }
                for p in document["predictions"]
            ]
        tasks.append(task)
    json.dump(tasks, handle, ensure_ascii=False, indent=1)
    return len(tasks)
