"""A detector's boxes on one image, and the image's informativeness from them.

Rules
-----
1. A pushed box is ``{"bbox": [x1, y1, x2, y2], "label": name, "score": s}`` with
   ``0 <= s <= 1`` and, optionally, ``"probabilities"``: the class probabilities of the
   box, a list in the order of the project's labels or a mapping of label to
   probability (stored as the list), each in ``[0, 1]``, summing to 1 (within 0.01).
   Its geometry follows `labelloop.boxes.geometry` rule 1; an empty list is valid
   (nothing detected), and no box is dropped for being unsure.
2. A box's uncertainty is ``1 - score``, or, when the caller computes one from its
   class probabilities, that number (the project's uncertainty scale).
3. The image's informativeness aggregates its boxes' uncertainties by ``BOX_SCORES``:
   ``max``, ``mean``, ``sum``, ``topk`` (the mean of the ``k`` largest; all of them
   when there are fewer) or ``unsure`` (how many boxes are unsure, rule 4). An image
   without boxes has informativeness 0.
4. A box is unsure when its score is below ``unsure_below``; the image reports how
   many of its boxes are, whatever the aggregation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from labelloop.boxes.geometry import check_boxes
from labelloop.exceptions import ValidationError

__all__ = ["BOX_SCORES", "box_uncertainties", "check_pushed_boxes", "image_informativeness"]

BOX_SCORES: tuple[str, ...] = ("max", "mean", "sum", "topk", "unsure")


def _probability(value: Any, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{where} must be a number in [0, 1], got {value!r}", field=field)
    if not 0.0 <= value <= 1.0:
        raise ValidationError(f"{where} must be in [0, 1], got {value!r}", field=field)
    return float(value)


_PUSHED_KEYS = frozenset({"bbox", "label", "score"})
_NUMBER_TYPES = (int, float)


def _fast_pushed(
    boxes: list[Any], labels: Sequence[str], width: float | None, height: float | None
) -> list[dict[str, Any]] | None:
    """The stored boxes when every box is plainly valid (checked in bulk with numpy), else
    None: the box-by-box check then finds and names the fault."""
    allowed = set(labels)
    try:
        if not all(type(b) is dict and b.keys() <= _PUSHED_KEYS for b in boxes):
            return None
        coords = [b["bbox"] for b in boxes]
        if not all(type(c) in (list, tuple) and len(c) == 4 for c in coords):
            return None
        if not all(type(v) in _NUMBER_TYPES for c in coords for v in c):
            return None
        scores = [b["score"] for b in boxes]
        if not all(type(v) in _NUMBER_TYPES for v in scores):
            return None
        if not all(b["label"] in allowed for b in boxes):
            return None
    except (KeyError, TypeError):
        return None
    xy = np.asarray(coords, dtype=np.float64).reshape(len(boxes), 4)
    score = np.asarray(scores, dtype=np.float64)
    ok = (
        np.isfinite(xy).all()
        and (xy[:, 0] >= 0).all()
        and (xy[:, 1] >= 0).all()
        and (xy[:, 0] < xy[:, 2]).all()
        and (xy[:, 1] < xy[:, 3]).all()
        and (width is None or (xy[:, 2] <= width).all())
        and (height is None or (xy[:, 3] <= height).all())
        and ((score >= 0) & (score <= 1)).all()
    )
    if not ok:
        return None
    return [
        {"bbox": row, "label": box["label"], "score": value}
        for row, box, value in zip(xy.tolist(), boxes, score.tolist(), strict=True)
    ]


def check_pushed_boxes(
    boxes: Any,
    *,
    labels: Sequence[str],
    width: float | None = None,
    height: float | None = None,
    item: Any = None,
) -> list[dict[str, Any]]:
    """Rule 1: a detector's boxes on one image in stored form.

    Raises
    ------
    ValidationError
        Naming the item, the box's position and its field (``boxes.<i>.score``, ...).
    """
    if isinstance(boxes, str | bytes | Mapping) or not isinstance(boxes, Iterable):
        raise ValidationError("boxes must be a list of {bbox, label, score}", field="boxes")
    boxes = list(boxes)
    fast = _fast_pushed(boxes, labels, width, height)
    if fast is not None:
        return fast
    where = "" if item is None else f"item {item!r}: "
    plain = []
    for position, box in enumerate(boxes):
        if not isinstance(box, Mapping):
            raise ValidationError(
                f"{where}box {position} must be {{bbox, label, score}}", field=f"boxes.{position}"
            )
        plain.append({k: v for k, v in box.items() if k not in ("score", "probabilities")})
    geometry = check_boxes(plain, labels=labels, width=width, height=height, item=item)
    stored = []
    for position, (box, raw) in enumerate(zip(geometry, boxes, strict=True)):
        if "score" not in raw:
            raise ValidationError(
                f"{where}box {position} needs a score in [0, 1]", field=f"boxes.{position}.score"
            )
        entry = box.as_dict()
        entry["score"] = _probability(
            raw["score"], f"{where}box {position} score", f"boxes.{position}.score"
        )
        probabilities = raw.get("probabilities")
        if probabilities is not None:
            field = f"boxes.{position}.probabilities"
            if isinstance(probabilities, Mapping):
                unknown = sorted(set(probabilities) - set(labels))
                if unknown:
                    raise ValidationError(
                        f"{where}box {position} probabilities name unknown labels {unknown}",
                        field=field,
                    )
                probabilities = [probabilities.get(name, 0.0) for name in labels]
            if isinstance(probabilities, str | bytes) or not isinstance(probabilities, Sequence):
                raise ValidationError(
                    f"{where}box {position} probabilities must be a list or a mapping",
                    field=field,
                )
            if len(probabilities) != len(labels):
                raise ValidationError(
                    f"{where}box {position} has {len(probabilities)} probabilities for "
                    f"{len(labels)} labels",
                    field=field,
                )
            entry["probabilities"] = [
                _probability(p, f"{where}box {position} probability {i}", f"{field}.{i}")
                for i, p in enumerate(probabilities)
            ]
            if abs(sum(entry["probabilities"]) - 1.0) > 0.01:
                raise ValidationError(
                    f"{where}box {position} probabilities must sum to 1 over the project's "
                    f"labels (got {sum(entry['probabilities']):.4f})",
                    field=field,
                )
        stored.append(entry)
    return stored


def box_uncertainties(boxes: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rule 2: ``1 - score`` of each box."""
    return 1.0 - np.asarray([float(b["score"]) for b in boxes], dtype=np.float64)


def image_informativeness(
    uncertainties: Sequence[float] | np.ndarray,
    scores: Sequence[float] | np.ndarray | None = None,
    *,
    method: str = "max",
    k: int = 3,
    unsure_below: float = 0.5,
) -> tuple[float, int]:
    """Rules 3 and 4: ``(informativeness, unsure boxes)`` of one image.

    ``scores`` are the boxes' scores (default ``1 - uncertainties``).

    Examples
    --------
    >>> image_informativeness([0.1, 0.6, 0.8], method="topk", k=2)
    (0.7, 2)
    >>> image_informativeness([], method="sum")
    (0.0, 0)
    """
    if method not in BOX_SCORES:
        raise ValidationError(
            f"unknown box score {method!r}: use one of {', '.join(BOX_SCORES)}",
            field="box_score",
        )
    u = np.asarray(uncertainties, dtype=np.float64)
    s = 1.0 - u if scores is None else np.asarray(scores, dtype=np.float64)
    unsure = int(np.count_nonzero(s < unsure_below))
    if u.size == 0:
        return 0.0, 0
    if method == "unsure":
        value = float(unsure)
    elif method == "max":
        value = u.max()
    elif method == "mean":
        value = u.mean()
    elif method == "sum":
        value = u.sum()
    else:
        value = np.sort(u)[::-1][: max(int(k), 1)].mean()
    return round(float(value), 12), unsure
