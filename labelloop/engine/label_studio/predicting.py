"""One Label Studio prediction per task, from a labelloop model version.

Rules
-----
1. Tasks are Label Studio's: ``{"id", "data": {...}}``; ``data`` is what the model reads,
   as an item's payload. When the model reads a text field the task lacks, the field the
   control's object tag shows (``value="$review"``) stands in for it.
2. Each task gets ``{"model_version", "score", "result"}``, in the order of the tasks.
   ``score`` is labelloop's informativeness of the task under the project's uncertainty
   scale (its strategy when that is least_confidence, margin, entropy or ratio; margin
   otherwise), the scale rounds use: **higher is more informative**. ``result`` holds one
   ``choices`` result for the chosen control (`matching.choose_control`) with the
   predicted label (every label at probability >= 0.5 for a multi-label project; no
   result when none is) and its probability as the result's ``score``.
3. Without a trained model every task gets ``{"model_version": "labelloop-untrained",
   "result": []}``: no guess and no score, rather than a made-up one.
4. Text and tabular classification projects are predicted live; an image
   classification project's items are files labelloop serves, not URLs in task data, so
   it is refused (`ValidationError`, field ``project``).
5. Entity (``ner``) and box projects are answered from what labelloop holds
   (`predict_region_tasks`): each task is the item `matching.task_external_id` names,
   and its prediction is the item's latest prediction with a structure (a CRF round's
   or a client model's spans or boxes): ``score`` is that prediction's informativeness;
   each span becomes a ``labels`` result (``value: {start, end, text, labels}``), each
   box a ``rectanglelabels`` result (percent ``x, y, width, height`` of the image,
   ``rotation: 0``, ``original_width``/``original_height``), each with its own
   ``score``. A task whose item labelloop does not hold, or holds without such a
   prediction, gets ``{"model_version": "labelloop-untrained", "result": []}`` as in
   rule 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
from sqlalchemy import func, select

from labelloop import strategies
from labelloop.engine.label_studio.matching import task_external_id
from labelloop.exceptions import ValidationError
from labelloop.io.label_studio import ChoicesControl, RegionControl
from labelloop.io.label_studio_json import RectangleResults, SpanResults
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow
from labelloop.strategies.uncertainty import UncertaintyMethod

if TYPE_CHECKING:  # scikit-learn loads with the first model, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = [
    "UNTRAINED_VERSION",
    "predict_region_tasks",
    "check_tasks",
    "latest_model_version",
    "model_version_name",
    "predict_tasks",
]

UNTRAINED_VERSION = "labelloop-untrained"
_TASK_TYPES = ("classification", "tabular")


def model_version_name(version: int | None) -> str:
    """The ``model_version`` Label Studio sees: ``labelloop-v<n>``, or untrained."""
    return UNTRAINED_VERSION if version is None else f"labelloop-v{version}"


def check_tasks(tasks: Any, *, field: str = "tasks") -> list[Mapping[str, Any]]:
    """Label Studio tasks: a list of objects, each with a ``data`` object.

    Raises
    ------
    ValidationError
        Naming the first bad task (``tasks.<i>`` or ``tasks.<i>.data``).
    """
    if not isinstance(tasks, list):
        raise ValidationError(f"{field} must be a list of Label Studio tasks", field=field)
    for index, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            raise ValidationError(
                f"{field}.{index} must be a task object", field=f"{field}.{index}"
            )
        if not isinstance(task.get("data"), Mapping):
            raise ValidationError(
                f"{field}.{index}.data must be the task's data object",
                field=f"{field}.{index}.data",
            )
    return tasks


def _measure(strategy: str) -> str:
    # The scale rounds write to the pool's predictions (rounds.scoring, rule 6).
    return strategy if strategy in get_args(UncertaintyMethod) else "margin"


def _payloads(
    tasks: Sequence[Mapping[str, Any]], model: ProjectModel, control: ChoicesControl
) -> list[Any]:
    from labelloop.models.builtin import ItemInput

    text_field = getattr(model.featurizer, "field", None)
    stand_in = control.data_field
    inputs = []
    for task in tasks:
        data = task["data"]
        if text_field and text_field not in data and stand_in in data:
            data = {**data, text_field: data[stand_in]}
        inputs.append(ItemInput(payload=data))
    return inputs


def _result(control: ChoicesControl, chosen: list[str], p: float) -> list[dict[str, Any]]:
    if not chosen:
        return []
    return [
        {
            "from_name": control.name,
            "to_name": control.to_name,
            "type": "choices",
            "value": {"choices": chosen},
            "score": round(p, 6),
        }
    ]


def predict_tasks(
    tasks: Sequence[Mapping[str, Any]],
    *,
    control: ChoicesControl,
    model: ProjectModel | None,
    model_version: int | None,
    task_type: str,
    strategy: str,
    multi_label: bool,
) -> list[dict[str, Any]]:
    """Label Studio predictions for ``tasks`` (rules 1 to 4).

    Parameters
    ----------
    tasks : sequence of mapping
        Checked by `check_tasks`.
    control : ChoicesControl
        The control the results fill (`matching.choose_control`).
    model : ProjectModel or None
        The project's model version, None before the first one.
    model_version : int or None
        Its number.
    task_type, strategy : str
        The project's.
    multi_label : bool
        The project's.

    Returns
    -------
    list of dict
        One prediction per task, in order.
    """
    if task_type not in _TASK_TYPES:
        raise ValidationError(
            f"Label Studio predictions cover text and tabular projects, not {task_type!r} "
            "ones: labelloop reads image items from its own media root",
            field="project",
        )
    version = model_version_name(model_version if model is not None else None)
    if model is None or not tasks:
        return [{"model_version": version, "result": []} for _task in tasks]
    proba = model.predict_proba(model.featurizer.transform(_payloads(tasks, model, control)))
    scores = getattr(strategies, _measure(strategy))(proba, multilabel=multi_label)
    labels = model.labels
    predictions = []
    if multi_label:
        for row, score in zip(proba, scores, strict=True):
            picked = np.flatnonzero(row >= 0.5)
            chosen = [labels[i] for i in picked]
            confidence = float(row[picked].min()) if picked.size else 0.0
            predictions.append(
                {
                    "model_version": version,
                    "score": round(float(score), 6),
                    "result": _result(control, chosen, confidence),
                }
            )
        return predictions
    top = proba.argmax(axis=1)
    for row, best, score in zip(proba, top, scores, strict=True):
        predictions.append(
            {
                "model_version": version,
                "score": round(float(score), 6),
                "result": _result(control, [labels[best]], float(row[best])),
            }
        )
    return predictions


def latest_model_version(db: Database, project_id: int) -> int | None:
    """The number of the project's newest built-in model version (None before the first)."""
    with db.read() as session:
        return session.execute(
            select(func.max(ModelVersionRow.version)).where(
                ModelVersionRow.project_id == project_id, ModelVersionRow.kind == "builtin"
            )
        ).scalar()


def _version_name(version: int, kind: str, name: str) -> str:
    # As exports name it: a client model by its own version string.
    return name if kind == "client" and name else model_version_name(version)


def _region_results(
    control: RegionControl, structure: list[Mapping[str, Any]], payload: Mapping[str, Any]
) -> list[dict[str, Any]]:
    base = {"from_name": control.name, "to_name": control.to_name, "type": control.type}
    if control.type == "labels":
        text = payload.get("text", "")
        values = [
            (SpanResults().write([span], {"text": text})[0], span.get("score"))
            for span in structure
        ]
        extras: dict[str, Any] = {}
    else:
        kind = RectangleResults()
        values = [
            (value, score)
            for value, score in kind.predict_structure(
                [{**box, "score": box.get("score", 1.0)} for box in structure], payload
            )
        ]
        extras = kind.extras(payload)
    results = []
    for index, (value, score) in enumerate(values):
        result = {"id": f"r{index}", **base, **extras, "value": value}
        if isinstance(score, int | float) and not isinstance(score, bool):
            result["score"] = round(float(score), 6)
        results.append(result)
    return results


def predict_region_tasks(
    db: Database,
    tasks: Sequence[Mapping[str, Any]],
    *,
    project_id: int,
    control: RegionControl,
    id_field: str | None,
) -> tuple[list[dict[str, Any]], str]:
    """Label Studio predictions of an entity or box project's tasks (rule 5).

    Parameters
    ----------
    db : Database
    tasks : sequence of mapping
        Checked by `check_tasks`.
    project_id : int
    control : RegionControl
        The control the results fill (`matching.choose_region_control`).
    id_field : str or None
        The project's ``label_studio_id_field`` setting.

    Returns
    -------
    (list of dict, str)
        One prediction per task, in order, and the newest model version among them
        (``labelloop-untrained`` when none had one).
    """
    ids = [task_external_id(t, id_field=id_field, where=f"tasks.{i}") for i, t in enumerate(tasks)]
    with db.read() as session:
        items = (
            dict(
                session.execute(
                    select(ItemRow.external_id, ItemRow.id).where(
                        ItemRow.project_id == project_id, ItemRow.external_id.in_(set(ids))
                    )
                ).all()
            )
            if ids
            else {}
        )
        payloads: dict[int, Any] = {}
        latest: dict[int, tuple[int, str, float, list[Any]]] = {}
        if items:
            rows = session.execute(
                select(
                    PredictionRow.item_id,
                    PredictionRow.score,
                    PredictionRow.structure,
                    ModelVersionRow.version,
                    ModelVersionRow.kind,
                    ModelVersionRow.name,
                )
                .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
                .where(
                    PredictionRow.project_id == project_id,
                    PredictionRow.item_id.in_(set(items.values())),
                    PredictionRow.structure.is_not(None),
                )
                .order_by(ModelVersionRow.version, PredictionRow.id)
            )
            for item_id, score, structure, version, kind, name in rows:
                if isinstance(structure, list):
                    latest[item_id] = (
                        version,
                        _version_name(version, kind, name),
                        score,
                        structure,
                    )
            payloads = (
                dict(
                    session.execute(
                        select(ItemRow.id, ItemRow.payload).where(ItemRow.id.in_(set(latest)))
                    ).all()
                )
                if latest
                else {}
            )
    predictions = []
    newest: tuple[int, str] | None = None
    for external_id in ids:
        found = latest.get(items.get(external_id, -1))
        if found is None:
            predictions.append({"model_version": UNTRAINED_VERSION, "result": []})
            continue
        version, name, score, structure = found
        if newest is None or version > newest[0]:
            newest = (version, name)
        predictions.append(
            {
                "model_version": name,
                "score": round(float(score), 6),
                "result": _region_results(control, structure, payloads[items[external_id]]),
            }
        )
    return predictions, newest[1] if newest else UNTRAINED_VERSION
