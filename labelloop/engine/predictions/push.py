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

An entity (``ner``) project's client model pushes, instead of probabilities, the spans
it found: ``spans: [{start, end, label, score}]`` (character offsets into the item's
text, ``score`` its confidence in the span from 0 to 1; an empty list: no entity), and
optionally the item's informativeness as ``score`` (a number >= 0, higher: ask sooner).
The spans are checked against the item's text and the project's entity types
(`labelloop.ner.check_spans`), naming the entry, span and field; one bad entry refuses
the whole push. Without a ``score`` the item's informativeness is ``1 - `` its least
confident span's score (`SPANS_INFORMATIVENESS`), and `NO_SPANS_INFORMATIVENESS` (0.5,
the middle of that range) when it has no span: an empty guess says nothing of how sure
the model was, so it neither buries nor floods the queue. The spans are stored as the
prediction's ``structure``, its ``probabilities`` empty.
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
from labelloop.ner import check_spans
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

__all__ = ["MAX_PREDICTIONS", "NO_SPANS_INFORMATIVENESS", "PushReport", "push_predictions"]

MAX_PREDICTIONS = 10_000
_MAX_EMBEDDING = 4_096
_SUM_TOLERANCE = 0.01
_CHUNK = 500
_KEYS = {"item_id", "probabilities", "embedding"}  # a box push: boxes for probabilities
_ENTITY_KEYS = {"item_id", "spans", "score", "embedding"}
_MAX_SPANS = 1_000
#: An entity item's informativeness when its pushed guess has no span (module notes).
NO_SPANS_INFORMATIVENESS = 0.5


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


def _check_score(value: Any, where: str) -> float:
    field = f"{where}.score"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{field} must be a finite number >= 0, got {value!r}", field=field)
    if value < 0:
        raise ValidationError(f"{field} must be >= 0, got {value!r}", field=field)
    return float(value)


def _check_span_scores(value: Any, where: str) -> list[Any]:
    """The shape of an entry's ``spans`` and each span's ``score``; offsets come later."""
    field = f"{where}.spans"
    if not isinstance(value, list) or len(value) > _MAX_SPANS:
        raise ValidationError(
            f"{field} must be a list of at most {_MAX_SPANS} {{start, end, label, score}}",
            field=field,
        )
    for j, span in enumerate(value):
        if not isinstance(span, dict):
            raise ValidationError(
                f"{field}.{j} must be an object {{start, end, label, score}}", field=f"{field}.{j}"
            )
        unknown = set(span) - {"start", "end", "label", "score"}
        if unknown:
            key = sorted(unknown)[0]
            raise ValidationError(f"{field}.{j}: unknown field {key!r}", field=f"{field}.{j}.{key}")
        p = span.get("score")
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValidationError(
                f"{field}.{j}.score must be a number from 0 to 1, got {p!r}",
                field=f"{field}.{j}.score",
            )
    return value


def _check_entity_spans(
    project: ProjectRow, where: str, external_id: str, spans: list[Any], text: Any
) -> list[dict[str, Any]]:
    """The spans of one entry, checked against the item's text: stored sorted by start."""
    try:
        checked = check_spans(
            spans, text=text if isinstance(text, str) else "", labels=project.labels,
            item=external_id,
        )  # fmt: skip
    except ValidationError as error:
        raise ValidationError(str(error), field=f"{where}.{error.field}") from None
    scores = {(s["start"], s["end"], s["label"]): float(s["score"]) for s in spans}
    return [{**span.as_dict(), "score": scores[tuple(span)]} for span in checked]


def _entity_informativeness(spans: list[dict[str, Any]]) -> float:
    """An entity item's informativeness from its spans (the module's notes)."""
    if not spans:
        return NO_SPANS_INFORMATIVENESS
    return 1.0 - min(span["score"] for span in spans)


def _check_predictions(
    project: ProjectRow, predictions: Any, *, boxes: bool = False
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """External ids, probabilities (n, n_labels) and embeddings (or None), validated
    (a box push's ids and embeddings only: its boxes are checked against the images).

    An entity project's entries have ``spans`` (and an optional ``score``) instead of
    probabilities: their rows of the returned matrix are empty, and their spans are
    checked against the items' texts by `_entity_predictions`.
    """
    if not isinstance(predictions, list) or not 0 < len(predictions) <= MAX_PREDICTIONS:
        raise ValidationError(
            f"predictions must be a list of 1 to {MAX_PREDICTIONS} entries", field="predictions"
        )
    entities = project.task_type == "ner"
    allowed = _ENTITY_KEYS if entities else _KEYS
    labels = list(project.labels)
    ids: list[str] = []
    rows: list[list[float]] = []
    embeddings: list[list[float]] = []
    seen: set[str] = set()
    for i, entry in enumerate(predictions):
        where = f"predictions.{i}"
        if not isinstance(entry, dict):
            raise ValidationError(f"{where} must be an object", field=where)
        unknown = set(entry) - allowed
        if unknown and not boxes:
            key = sorted(unknown)[0]
            hint = (
                " (an entity project's client model pushes spans and an optional score)"
                if entities and key == "probabilities"
                else ""
            )
            raise ValidationError(f"{where}: unknown field {key!r}{hint}", field=f"{where}.{key}")
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
        if entities:
            if "spans" not in entry:
                raise ValidationError(
                    f"{where}.spans is missing: an entity project's prediction is the item's "
                    "spans [{start, end, label, score}] (an empty list: no entity)",
                    field=f"{where}.spans",
                )
            _check_span_scores(entry["spans"], where)
            if entry.get("score") is not None:
                _check_score(entry["score"], where)
            rows.append([])
        elif not boxes:
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
    proba = np.zeros((len(ids), 0)) if entities else np.asarray(rows, dtype=np.float64)
    return ids, proba, matrix


def _entity_predictions(
    session: Session,
    project: ProjectRow,
    predictions: list[dict[str, Any]],
    external_ids: list[str],
    item_ids: list[int],
) -> tuple[list[list[dict[str, Any]]], np.ndarray]:
    """Each entry's spans checked against its item's text, and its informativeness."""
    texts: dict[int, Any] = {}
    for start in range(0, len(item_ids), _CHUNK):
        rows = session.execute(
            select(ItemRow.id, ItemRow.payload).where(
                ItemRow.id.in_(item_ids[start : start + _CHUNK])
            )
        ).all()
        texts.update((item_id, (payload or {}).get("text")) for item_id, payload in rows)
    structures: list[list[dict[str, Any]]] = []
    scores = np.empty(len(item_ids))
    for i, (entry, external_id, item_id) in enumerate(
        zip(predictions, external_ids, item_ids, strict=True)
    ):
        where = f"predictions.{i}"
        spans = _check_entity_spans(project, where, external_id, entry["spans"], texts[item_id])
        structures.append(spans)
        given = entry.get("score")
        scores[i] = float(given) if given is not None else _entity_informativeness(spans)
    return structures, scores


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
        An entity project's entries are ``{"item_id", "spans": [{start, end, label,
        score}], "score": informativeness, "embedding"}``, score and embedding optional
        (the module's notes).

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
        elif project.task_type == "ner":
            item_ids = _item_ids(session, project.id, external_ids)
            spans, scores = _entity_predictions(
                session, project, predictions, external_ids, item_ids
            )
            structures = list(spans)
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
                    "probabilities": (
                        {} if project.task_type == "ner" else dict(zip(labels, row, strict=True))
                    ),
                    "score": float(score),
                    "structure": structure,
                    "created_at": now,
                }
                for item_id, row, score, structure in zip(
                    item_ids, np.asarray(proba).tolist(), scores, structures, strict=True
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
