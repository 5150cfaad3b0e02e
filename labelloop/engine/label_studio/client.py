"""A Label Studio ML backend as a labelloop client model (pull mode).

Rules
-----
1. Before its first ``/predict`` for a project, the backend gets Label Studio's ``POST
   /setup`` (``{"project", "schema", "hostname", "access_token", "model_version"}``,
   `setup_request`): backends built on the ML backend SDK load their model there.
   The request is the one Label Studio sends to ``POST /predict``: ``{"tasks": [{"id",
   "data"}], "model_version", "project": "<id>.<created timestamp>", "label_config",
   "params": {"login", "password", "context"}}``. Each item is a task whose ``id`` is the
   item's row id and whose ``data`` is its payload; the label config is the project's
   (`labelloop.io.label_studio.label_config_for`: a ``<Text name="text">`` and a
   ``<Choices name="label">`` with the project's labels).
2. The answer's ``results`` hold one prediction per task, in order. A prediction's
   ``choices`` result for the ``label`` control (any ``choices`` result when none names
   it) gives the chosen labels; its confidence is the result's ``score``, else the
   prediction's ``score``, when in (0, 1], else 1.
3. As class probabilities: a single-label prediction gives its label the confidence and
   shares the rest equally among the other labels; a multi-label one gives each chosen
   label the confidence and every other label one minus it. A prediction with no usable
   choice, or one naming a label the project does not have, gives None (skipped).
4. Entity (``ner``) and box projects: the label config is a ``<Labels name="label">``
   over ``<Text name="text">`` (`labelloop.io.label_studio.span_label_config_for`) or a
   ``<RectangleLabels name="label">`` over ``<Image name="image">``
   (`labelloop.io.label_studio.box_label_config_for`). A prediction's ``labels`` or
   ``rectanglelabels`` results (of the ``label`` control; of any control when none
   names it) become spans or boxes (`results_to_regions`), read by the file importer's
   converters: spans checked against the item's text, percent coordinates turned into
   pixels of the item's image. Each keeps its result's ``score``, else the prediction's,
   when in (0, 1], else 1. No such result: nothing found (an empty list). A malformed
   result or a label the project does not have gives None (skipped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.exceptions import ValidationError
from labelloop.io.label_studio import (
    box_label_config_for,
    label_config_for,
    span_label_config_for,
)

__all__ = [
    "CONTROL_NAME",
    "backend_request",
    "results_to_probabilities",
    "results_to_regions",
    "setup_request",
]

CONTROL_NAME = "label"


def _project_uid(project_id: int, created_at: dt.datetime) -> str:
    # Label Studio names a project to its backend as "<id>.<created timestamp>".
    return f"{project_id}.{int(created_at.timestamp())}"


def _config(task_type: str, labels: Sequence[str], multi_label: bool, text_field: str) -> str:
    if task_type == "ner":
        return span_label_config_for(list(labels), text_field=text_field)
    if task_type == "boxes":
        return box_label_config_for(list(labels))
    return label_config_for(list(labels), multi_label=multi_label, text_field=text_field)


def setup_request(
    *,
    project_id: int,
    created_at: dt.datetime,
    labels: Sequence[str],
    multi_label: bool,
    text_field: str = "text",
    task_type: str = "classification",
) -> dict[str, Any]:
    """The ``/setup`` request Label Studio sends when a project connects (rules 1, 4)."""
    return {
        "project": _project_uid(project_id, created_at),
        "schema": _config(task_type, labels, multi_label, text_field),
        "hostname": "",
        "access_token": "",
        "model_version": None,
    }


def backend_request(
    *,
    project_id: int,
    created_at: dt.datetime,
    labels: Sequence[str],
    multi_label: bool,
    items: Sequence[tuple[int, Mapping[str, Any]]],
    text_field: str = "text",
    task_type: str = "classification",
) -> dict[str, Any]:
    """The ``/predict`` request for ``items`` (row id, payload) of a project (rule 1).

    Examples
    --------
    >>> import datetime as dt
    >>> request = backend_request(project_id=3, created_at=dt.datetime(2026, 1, 1),
    ...                           labels=["a", "b"], multi_label=False,
    ...                           items=[(11, {"text": "hello"})])
    >>> request["tasks"], request["project"].split(".")[0]
    ([{'id': 11, 'data': {'text': 'hello'}}], '3')
    """
    return {
        "tasks": [{"id": item_id, "data": dict(payload)} for item_id, payload in items],
        "model_version": None,
        "project": _project_uid(project_id, created_at),
        "label_config": _config(task_type, labels, multi_label, text_field),
        "params": {"login": None, "password": None, "context": None},
    }


def _confidence(*values: Any) -> float:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1:
            return float(value)
    return 1.0


def _choices(prediction: Mapping[str, Any]) -> tuple[list[str], Any] | None:
    results = prediction.get("result")
    if not isinstance(results, list):
        return None
    candidates = [r for r in results if isinstance(r, Mapping) and r.get("type") == "choices"]
    named = [r for r in candidates if r.get("from_name") == CONTROL_NAME]
    for result in named or candidates:
        value = result.get("value")
        choices = value.get("choices") if isinstance(value, Mapping) else None
        if isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices):
            return choices, result.get("score")
    return None


def _probabilities(
    prediction: Any, labels: Sequence[str], multi_label: bool
) -> dict[str, float] | None:
    if not isinstance(prediction, Mapping):
        return None
    found = _choices(prediction)
    if found is None:
        return None
    chosen, result_score = found
    if any(c not in labels for c in chosen) or (not multi_label and len(chosen) != 1):
        return None
    confidence = _confidence(result_score, prediction.get("score"))
    if multi_label:
        return {label: confidence if label in chosen else 1.0 - confidence for label in labels}
    if len(labels) == 1:
        return {labels[0]: 1.0}
    rest = (1.0 - confidence) / (len(labels) - 1)
    return {label: confidence if label == chosen[0] else rest for label in labels}


def results_to_probabilities(
    results: Any, *, labels: Sequence[str], multi_label: bool
) -> list[dict[str, float] | None]:
    """Class probabilities of each prediction of a backend's ``results`` (rules 2 and 3).

    Examples
    --------
    >>> results_to_probabilities(
    ...     [{"result": [{"type": "choices", "from_name": "label", "to_name": "text",
    ...                   "value": {"choices": ["a"]}}], "score": 0.8}],
    ...     labels=["a", "b"], multi_label=False)
    [{'a': 0.8, 'b': 0.19999999999999996}]
    """
    if not isinstance(results, list):
        return []
    return [_probabilities(prediction, labels, multi_label) for prediction in results]


class _Skip:
    """Errors of the file converters inside a backend's answer: the prediction is skipped."""

    path = None
    number = None

    def __call__(self, message: str, field: str) -> ValidationError:
        return ValidationError(message, field=field)


def _regions(
    prediction: Any, task_type: str, labels: Sequence[str], payload: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    from labelloop.io.label_studio_json import RectangleResults, SpanResults

    if not isinstance(prediction, Mapping) or not isinstance(prediction.get("result"), list):
        return None
    result_type = "labels" if task_type == "ner" else "rectanglelabels"
    candidates = [
        r for r in prediction["result"] if isinstance(r, Mapping) and r.get("type") == result_type
    ]
    named = [r for r in candidates if r.get("from_name") == CONTROL_NAME]
    chosen = named or candidates
    kind: Any = SpanResults() if task_type == "ner" else RectangleResults()
    record = (
        {"text": payload.get("text")}
        if task_type == "ner"
        else {k: payload[k] for k in ("width", "height") if k in payload}
    )
    try:
        regions = kind.read(chosen, record, "prediction", _Skip())
    except ValidationError:  # the converters' ImportDataError is one too
        return None
    if any(region["label"] not in labels for region in regions):
        return None
    if task_type == "ner":
        # The converter sorts spans; their results' scores follow them by position.
        scores = {
            (r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]): r.get("score")
            for r in chosen
        }
        return [
            {
                **span,
                "score": _confidence(
                    scores.get((span["start"], span["end"], span["label"])),
                    prediction.get("score"),
                ),
            }
            for span in regions
        ]
    return [
        {**box, "score": _confidence(result.get("score"), prediction.get("score"))}
        for box, result in zip(regions, chosen, strict=True)
    ]


def results_to_regions(
    results: Any,
    *,
    task_type: str,
    labels: Sequence[str],
    payloads: Sequence[Mapping[str, Any]],
) -> list[list[dict[str, Any]] | None]:
    """The spans or boxes of each prediction of a backend's ``results`` (rule 4), for the
    items whose ``payloads`` were sent, in order.

    Examples
    --------
    >>> results_to_regions(
    ...     [{"result": [{"type": "labels", "from_name": "label", "to_name": "text",
    ...                   "value": {"start": 0, "end": 3, "labels": ["PER"]},
    ...                   "score": 0.9}]}],
    ...     task_type="ner", labels=["PER"], payloads=[{"text": "Bob ran"}])
    [[{'start': 0, 'end': 3, 'label': 'PER', 'score': 0.9}]]
    """
    if not isinstance(results, list):
        return []
    return [
        _regions(prediction, task_type, labels, payload)
        for prediction, payload in zip(results, payloads, strict=False)
    ]
