"""A client detector's push on a box project: per image its boxes, scored as one number.

Rules
-----
1. An entry is ``{"item_id", "boxes": [{bbox, label, score, probabilities?}], "embedding"?}``;
   the boxes follow `labelloop.boxes.check_pushed_boxes`, inside the image when its size
   is known; an empty list is valid (nothing detected) and no box is dropped for being
   unsure. An error names ``predictions.<i>.boxes.<j>.<field>``; nothing is written.
2. The boxes are stored as the prediction's ``structure``; its ``probabilities`` are,
   per class, the highest score of a box of that class (0 without one), so whole-image
   views still read a guess.
3. A box's uncertainty is ``1 - score`` (``box_uncertainty`` = score), or its class
   probabilities on the project's uncertainty scale (``probabilities``; a box without
   them falls back to ``1 - score``). The image's informativeness aggregates them by
   ``box_score`` (``box_topk``; ``unsure`` counts the boxes scored below
   ``box_unsure_below``) and places the image's task on the queue's scale as any other
   informativeness does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.boxes import check_pushed_boxes
from labelloop.engine.core import priority
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import ValidationError
from labelloop.store.tables import ItemRow, ProjectRow

__all__ = ["BoxPush", "check_box_push"]

_KEYS = {"item_id", "boxes", "embedding"}
_CHUNK = 500


@dataclass(frozen=True)
class BoxPush:
    """A checked box push: per image its item, boxes, class scores and informativeness."""

    external_ids: list[str]
    item_ids: list[int]
    structures: list[list[dict[str, Any]]]
    probabilities: np.ndarray
    scores: np.ndarray
    unsure: list[int]
    n_boxes: int


def _items(session: Session, project_id: int, external_ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        found.update(
            (external_id, (item_id, payload))
            for external_id, item_id, payload in session.execute(
                select(ItemRow.external_id, ItemRow.id, ItemRow.payload).where(
                    ItemRow.project_id == project_id, ItemRow.external_id.in_(chunk)
                )
            )
        )
    return found


def _size(payload: Any, key: str) -> float | None:
    value = payload.get(key) if isinstance(payload, Mapping) else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def check_box_push(
    session: Session,
    project: ProjectRow,
    predictions: Any,
    *,
    ids: list[str],
) -> BoxPush:
    """Rules 1-3 on a push whose entries' ``item_id`` were read as ``ids``."""
    labels = list(project.labels)
    settings = effective_settings(project)
    found = _items(session, project.id, ids)
    item_ids: list[int] = []
    structures: list[list[dict[str, Any]]] = []
    proba = np.zeros((len(ids), len(labels)))
    scores = np.zeros(len(ids))
    unsure: list[int] = []
    index = {name: j for j, name in enumerate(labels)}
    n_boxes = 0
    for i, (entry, external_id) in enumerate(zip(predictions, ids, strict=True)):
        where = f"predictions.{i}"
        unknown = set(entry) - _KEYS
        if unknown:
            key = sorted(unknown)[0]
            hint = " (a box project pushes boxes)" if key == "probabilities" else ""
            raise ValidationError(f"{where}: unknown field {key!r}{hint}", field=f"{where}.{key}")
        if external_id not in found:
            raise ValidationError(
                f"{where}.item_id: no item {external_id!r} in this project",
                field=f"{where}.item_id",
            )
        item_id, payload = found[external_id]
        if "boxes" not in entry:
            raise ValidationError(
                f"{where}.boxes: a box project's prediction is the image's boxes "
                "(an empty list: nothing detected)",
                field=f"{where}.boxes",
            )
        try:
            boxes = check_pushed_boxes(
                entry["boxes"],
                labels=labels,
                width=_size(payload, "width"),
                height=_size(payload, "height"),
                item=external_id,
            )
        except ValidationError as error:
            raise ValidationError(str(error), field=f"{where}.{error.field}") from None
        n_boxes += len(boxes)
        value, n_unsure = priority.box_informativeness(boxes, settings, strategy=project.strategy)
        for box in boxes:
            j = index[box["label"]]
            if box["score"] > proba[i, j]:
                proba[i, j] = box["score"]
        item_ids.append(item_id)
        structures.append(boxes)
        scores[i] = value
        unsure.append(n_unsure)
    return BoxPush(ids, item_ids, structures, proba, scores, unsure, n_boxes)
