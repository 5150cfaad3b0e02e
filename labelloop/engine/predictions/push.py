"""Client models: push predictions in bulk; read final labels page by page.

A client model (the model lives with the customer) pushes, for items named by their
external ids, its class probabilities and optionally an embedding. The engine scores
them on the project's uncertainty scale (margin unless the project names
least_confidence, entropy or ratio), picks a batch of ``batch_size`` items (diverse
by clusters of the embeddings when every prediction carries one, else the top scores),
and places the open label tasks on the scale rounds use (`placing`): every pushed item
by its informativeness, whichever model scored the rest of the pool, and the picks on
top only where they are at least as informative as every other scored open task. The
push reports as its ``batch`` the picks that went on top. Evaluation-set tasks keep
their priority: the strategy never picks them.

A box project's push carries each image's boxes instead of class probabilities; they
are checked, stored and scored as `labelloop.engine.predictions.boxes` says, then
placed the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from labelloop import strategies
from labelloop.engine.core import priority
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.core.outbox import emit_event
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.engine.predictions.boxes import check_box_push
from labelloop.engine.predictions.placing import place_push
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    TaskRow,
    utcnow,
)

__all__ = ["MAX_PREDICTIONS", "PushReport", "push_predictions"]

MAX_PREDICTIONS = 10_000
_MAX_EMBEDDING = 4_096
_SUM_TOLERANCE = 0.01
_CHUNK = 500
_KEYS = {"item_id", "probabilities", "embedding"}  # a box push: boxes for probabilities


@dataclass(frozen=True)
class PushReport:
    """What a push did: the model version it was filed under and the batch it picked."""

    model_version_id: int
    model_version: int
    model_name: str
    n_predictions: int
    n_reprioritised: int
    batch: tuple[str, ...]
    n_boxes: int = 0
    n_unsure_boxes: int = 0


def _check_probabilities(
    value: Any, where: str, labels: list[str], multi_label: bool
) -> list[float]:
    field = f"{where}.probabilities"
    if not isinstance(value, dict) or not value:
        raise ValidationError(f"{field} must be an object of label: probability", field=field)
    for name, p in value.items():
        if name not in labels:
            raise ValidationError(
                f"{field}: unknown label {name!r}; the project's labels are {', '.join(labels)}",
                field=field,
            )
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValidationError(
                f"{field}[{name!r}] must be a number from 0 to 1, got {p!r}", field=field
            )
    row = [float(value.get(name, 0.0)) for name in labels]
    if not multi_label and abs(sum(row) - 1.0) > _SUM_TOLERANCE:
        raise ValidationError(
            f"{field} must sum to 1 for a single-label project (got {sum(row):.4f})", field=field
        )
    return row


def _check_embedding(value: Any, where: str) -> list[float]:
    field = f"{where}.embedding"
    if not isinstance(value, list) or not 0 < len(value) <= _MAX_EMBEDDING:
        raise ValidationError(
            f"{field} must be a list of 1 to {_MAX_EMBEDDING} numbers", field=field
        )
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise ValidationError(f"{field} must hold finite numbers, got {x!r}", field=field)
    return [float(x) for x in value]


def _check_predictions(
    project: ProjectRow, predictions: Any, *, boxes: bool = False
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """External ids, probabilities (n, n_labels) and embeddings (or None), validated
    (a box push's ids and embeddings only: its boxes are checked against the images)."""
    if not isinstance(predictions, list) or not 0 < len(predictions) <= MAX_PREDICTIONS:
        raise ValidationError(
            f"predictions must be a list of 1 to {MAX_PREDICTIONS} entries", field="predictions"
        )
    labels = list(project.labels)
    ids: list[str] = []
    rows: list[list[float]] = []
    embeddings: list[list[float]] = []
    seen: set[str] = set()
    for i, entry in enumerate(predictions):
        where = f"predictions.{i}"
        if not isinstance(entry, dict):
            raise ValidationError(f"{where} must be an object", field=where)
        unknown = set(entry) - _KEYS
        if unknown and not boxes:
            key = sorted(unknown)[0]
            raise ValidationError(f"{where}: unknown field {key!r}", field=f"{where}.{key}")
        item_id = entry.get("item_id")
        if isinstance(item_id, bool) or not isinstance(item_id, str | int) or item_id == "":
            raise ValidationError(
                f"{where}.item_id must be the item's id", field=f"{where}.item_id"
            )
        item_id = str(item_id)
        if item_id in seen:
            raise ValidationError(
                f"{where}.item_id {item_id!r} appears twice in this push", field=f"{where}.item_id"
            )
        seen.add(item_id)
        ids.append(item_id)
        if not boxes:
            rows.append(
                _check_probabilities(entry.get("probabilities"), where, labels, project.multi_label)
            )
        if entry.get("embedding") is not None:
            embeddings.append(_check_embedding(entry["embedding"], where))
    matrix = None
    if embeddings and len(embeddings) == len(ids):
        if len({len(e) for e in embeddings}) != 1:
            raise ValidationError(
                "every embedding in a push must have the same length",
                field="predictions.embedding",
            )
        matrix = np.asarray(embeddings, dtype=np.float64)
    return ids, np.asarray(rows, dtype=np.float64), matrix


def _item_ids(session: Session, project_id: int, external_ids: list[str]) -> list[int]:
    found: dict[str, int] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        found.update(
            session.execute(
                select(ItemRow.external_id, ItemRow.id).where(
                    ItemRow.project_id == project_id, ItemRow.external_id.in_(chunk)
                )
            ).all()
        )
    for i, external_id in enumerate(external_ids):
        if external_id not in found:
            raise ValidationError(
                f"predictions.{i}.item_id: no item {external_id!r} in this project",
                field=f"predictions.{i}.item_id",
            )
    return [found[e] for e in external_ids]


def _open_tasks(session: Session, item_ids: list[int]) -> dict[int, int]:
    """Item id -> task id of the open, non-evaluation label tasks among these items (not
    those stream mode asked on arrival, which keep their place)."""
    found: dict[int, int] = {}
    for start in range(0, len(item_ids), _CHUNK):
        found.update(
            session.execute(
                select(TaskRow.item_id, TaskRow.id).where(
                    TaskRow.item_id.in_(item_ids[start : start + _CHUNK]),
                    TaskRow.queue == LABEL_QUEUE,
                    TaskRow.status == "open",
                    TaskRow.is_eval.is_(False),
                    TaskRow.priority < priority.ASKED_BONUS,
                )
            ).all()
        )
    return found


def _model_version(session: Session, project_id: int, name: str) -> ModelVersionRow:
    row = session.execute(
        select(ModelVersionRow).where(
            ModelVersionRow.project_id == project_id,
            ModelVersionRow.kind == "client",
            ModelVersionRow.name == name,
        )
    ).scalar_one_or_none()
    if row is not None:
        return row
    current = session.execute(
        select(func.max(ModelVersionRow.version)).where(ModelVersionRow.project_id == project_id)
    ).scalar_one()
    row = ModelVersionRow(
        project_id=project_id, version=int(current or 0) + 1, kind="client", name=name
    )
    session.add(row)
    session.flush()
    return row


def _scores(project: ProjectRow, proba: np.ndarray) -> np.ndarray:
    return priority.uncertainty(
        proba,
        measure=priority.uncertainty_measure(project.strategy),
        multi_label=project.multi_label,
    )


def _pick(scores: np.ndarray, embeddings: np.ndarray | None, k: int) -> np.ndarray:
    k = min(k, scores.shape[0])
    if embeddings is not None and k > 1:
        # One cluster per batch slot: the batch spreads over as many regions as it has items.
        return strategies.cluster_diverse(scores, embeddings, k, n_clusters=k, random_state=0)
    return strategies.top_k(scores, k, random_state=0)


def push_predictions(
    db: Database,
    *,
    project_id: int | str,
    actor: str,
    model_version: str,
    predictions: list[dict[str, Any]],
) -> PushReport:
    """Store a client model's predictions, score them and re-prioritise the queue.

    Parameters
    ----------
    db : Database
    project_id : int or str
    actor : str
        Usually ``model:<account name>``.
    model_version : str
        The client's own version string; one ``model_versions`` row (kind ``client``)
        per distinct string.
    predictions : list of dict
        ``{"item_id": EXTERNAL_ID, "probabilities": {label: p}, "embedding": [...]}``,
        the embedding optional. Single-label probabilities must sum to 1 (within 0.01).
        A box project's entries are ``{"item_id", "boxes": [{"bbox": [x1, y1, x2, y2],
        "label", "score", "probabilities"?}], "embedding"?}`` in image pixels.

    Returns
    -------
    PushReport

    Raises
    ------
    ValidationError
        Naming the entry and field at fault (``predictions.3.item_id``, ...); nothing
        is written.
    """
    if not isinstance(model_version, str) or not 0 < len(model_version.strip()) <= 200:
        raise ValidationError(
            "model_version must be a non-empty string of at most 200 characters",
            field="model_version",
        )
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        boxed = project.task_type == "boxes"
        external_ids, proba, embeddings = _check_predictions(project, predictions, boxes=boxed)
        structures: list[Any] = [None] * len(external_ids)
        n_boxes = n_unsure = 0
        if boxed:
            push = check_box_push(session, project, predictions, ids=external_ids)
            item_ids, proba, scores = push.item_ids, push.probabilities, push.scores
            structures, n_boxes, n_unsure = push.structures, push.n_boxes, sum(push.unsure)
        else:
            item_ids = _item_ids(session, project.id, external_ids)
            scores = _scores(project, proba)
        version = _model_version(session, project.id, model_version.strip())
        now = utcnow()
        labels = list(project.labels)
        session.execute(
            PredictionRow.__table__.insert(),
            [
                {
                    "project_id": project.id,
                    "item_id": item_id,
                    "model_version_id": version.id,
                    "probabilities": dict(zip(labels, row.tolist(), strict=True)),
                    "score": float(score),
                    "structure": structure,
                    "created_at": now,
                }
                for item_id, row, score, structure in zip(
                    item_ids, proba, scores, structures, strict=True
                )
            ],
        )
        open_tasks = _open_tasks(session, item_ids)
        # Only items still waiting for a label, outside the evaluation set, are ranked.
        waiting = np.array([i for i, item in enumerate(item_ids) if item in open_tasks], dtype=int)
        picked = np.empty(0, dtype=int)
        updates = []
        if waiting.size:
            batch_size = int(effective_settings(project)["batch_size"])
            local = _pick(
                scores[waiting], None if embeddings is None else embeddings[waiting], batch_size
            )
            on_top, priorities = place_push(
                session,
                project_id=project.id,
                item_ids=[item_ids[i] for i in waiting.tolist()],
                informativeness=scores[waiting],
                picked=local,
                now=now,
            )
            picked = waiting[on_top]
            reason = f"{model_version.strip()}: picked for the next batch"[:300]
            chosen = set(on_top.tolist())
            updates = [
                {
                    "b_id": open_tasks[item_ids[i]],
                    "b_priority": float(priorities[j]),
                    "b_reason": reason if j in chosen else None,
                }
                for j, i in enumerate(waiting.tolist())
            ]
            session.execute(
                update(TaskRow.__table__)
                .where(TaskRow.__table__.c.id == bindparam("b_id"))
                .values(
                    priority=bindparam("b_priority"),
                    reason=bindparam("b_reason"),
                    updated_at=now,
                ),
                updates,
            )
        batch = tuple(external_ids[i] for i in picked.tolist())
        append_event(
            session,
            project_id=project.id,
            actor=actor,
            action="predictions.pushed",
            target=f"project:{project.id}",
            after={
                "model_version": version.version,
                "name": version.name,
                "n_predictions": len(item_ids),
                "n_reprioritised": len(updates),
                **({"n_boxes": n_boxes, "n_unsure_boxes": n_unsure} if boxed else {}),
            },
        )
        emit_event(
            session,
            project_id=project.id,
            event="batch.ready",
            payload={
                "model_version": version.name,
                "n_predictions": len(item_ids),
                "batch": list(batch),
            },
        )
        return PushReport(
            model_version_id=version.id,
            model_version=version.version,
            model_name=version.name,
            n_predictions=len(item_ids),
            n_reprioritised=len(updates),
            batch=batch,
            n_boxes=n_boxes,
            n_unsure_boxes=n_unsure,
        )
