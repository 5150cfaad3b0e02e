"""Boxes ``[x1, y1, x2, y2]`` in image pixels: their checks, IoU, matching and F1.

Rules
-----
1. A box is a mapping ``{"bbox": [x1, y1, x2, y2], "label": name}`` (or a `Box`): four
   finite numbers (not booleans) with ``0 <= x1 < x2`` and ``0 <= y1 < y2``, inside the
   image (``x2 <= width``, ``y2 <= height``) when its size is known, and a label among
   the allowed ones when they are given. Other keys are refused, so a typo is not lost.
2. Coordinates are kept as floats (``10`` reads as ``10.0``). An error names the box by
   its 0-based position, ``field="boxes.<i>.bbox"`` or ``boxes.<i>.label``. An empty list is
   valid: nothing in the image.
3. Two boxes match when their IoU is at least the threshold and their labels are equal;
   `match_boxes` pairs them one to one maximising the summed IoU (the Hungarian method,
   `scipy.optimize.linear_sum_assignment`), and `box_f1` is ``2m / (|a| + |b|)`` for
   ``m`` matched pairs (1.0 when both lists are empty).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["Box", "box_f1", "check_boxes", "iou_matrix", "match_boxes"]


class Box(NamedTuple):
    """One box in image pixels, ``x1 < x2`` and ``y1 < y2``."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str

    @property
    def bbox(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    def as_dict(self) -> dict[str, Any]:
        """The stored form: ``{"bbox": [x1, y1, x2, y2], "label": name}``."""
        return {"bbox": self.bbox, "label": self.label}


def _where(item: Any) -> str:
    return "" if item is None else f"item {item!r}: "


def _number(value: Any, position: int, item: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            f"{_where(item)}box {position} bbox holds {value!r}, not a number",
            field=f"boxes.{position}.bbox",
        )
    if not math.isfinite(value):
        raise ValidationError(
            f"{_where(item)}box {position} bbox holds {value!r}: coordinates must be finite",
            field=f"boxes.{position}.bbox",
        )
    return value


def _as_box(value: Any, position: int, item: Any) -> Box:
    if isinstance(value, Box):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{_where(item)}box {position} must be {{bbox, label}}, not {type(value).__name__}",
            field=f"boxes.{position}",
        )
    extra = sorted(set(value) - {"bbox", "label"})
    if extra:
        raise ValidationError(
            f"{_where(item)}box {position} has unknown keys {extra}: a box is {{bbox, label}}",
            field=f"boxes.{position}.{extra[0]}",
        )
    bbox = value.get("bbox")
    if isinstance(bbox, str | bytes | Mapping) or not isinstance(bbox, Sequence) or len(bbox) != 4:
        raise ValidationError(
            f"{_where(item)}box {position} bbox must be [x1, y1, x2, y2], got {bbox!r}",
            field=f"boxes.{position}.bbox",
        )
    x1, y1, x2, y2 = (_number(v, position, item) for v in bbox)
    label = value.get("label")
    if not isinstance(label, str) or not label:
        raise ValidationError(
            f"{_where(item)}box {position} label must be a non-empty string, got {label!r}",
            field=f"boxes.{position}.label",
        )
    return Box(float(x1), float(y1), float(x2), float(y2), label)


def check_boxes(
    boxes: Any,
    *,
    labels: Iterable[str] | None = None,
    width: float | None = None,
    height: float | None = None,
    item: Any = None,
) -> list[Box]:
    """Validate the boxes of one image (rules 1 and 2) and return them as `Box`.

    Raises
    ------
    ValidationError
        Naming the item, the box's position and its field.

    Examples
    --------
    >>> check_boxes([{"bbox": [1, 2, 30, 40], "label": "cat"}], labels=["cat"], width=64)
    [Box(x1=1.0, y1=2.0, x2=30.0, y2=40.0, label='cat')]
    """
    if isinstance(boxes, str | bytes | Mapping) or not isinstance(boxes, Iterable):
        raise ValidationError(
            f"{_where(item)}boxes must be a list of {{bbox, label}}, not {type(boxes).__name__}",
            field="boxes",
        )
    allowed = None if labels is None else set(labels)
    checked = [_as_box(value, position, item) for position, value in enumerate(boxes)]
    for position, box in enumerate(checked):
        if not (0 <= box.x1 < box.x2 and 0 <= box.y1 < box.y2):
            raise ValidationError(
                f"{_where(item)}box {position} {box.bbox} must have 0 <= x1 < x2 and 0 <= y1 < y2",
                field=f"boxes.{position}.bbox",
            )
        if (width is not None and box.x2 > width) or (height is not None and box.y2 > height):
            raise ValidationError(
                f"{_where(item)}box {position} {box.bbox} lies outside the image of "
                f"{width} x {height} pixels",
                field=f"boxes.{position}.bbox",
            )
        if allowed is not None and box.label not in allowed:
            raise ValidationError(
                f"{_where(item)}box {position} label {box.label!r} is not one of {sorted(allowed)}",
                field=f"boxes.{position}.label",
            )
    return checked


def _coords(boxes: Sequence[Any]) -> np.ndarray:
    rows = [b.bbox if isinstance(b, Box) else b["bbox"] for b in boxes]
    return np.asarray(rows, dtype=float).reshape(len(rows), 4)


def _label(box: Any) -> str:
    return box.label if isinstance(box, Box) else box["label"]


def iou_matrix(a: Sequence[Any], b: Sequence[Any]) -> np.ndarray:
    """The IoU of every box of ``a`` with every box of ``b``, shape ``(len(a), len(b))``."""
    first, second = _coords(a), _coords(b)
    if not len(first) or not len(second):
        return np.zeros((len(first), len(second)))
    x1 = np.maximum(first[:, None, 0], second[None, :, 0])
    y1 = np.maximum(first[:, None, 1], second[None, :, 1])
    x2 = np.minimum(first[:, None, 2], second[None, :, 2])
    y2 = np.minimum(first[:, None, 3], second[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    area_b = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(
    a: Sequence[Any], b: Sequence[Any], *, threshold: float = 0.5
) -> list[tuple[int, int, float]]:
    """Rule 3: the one-to-one pairs ``(i, j, iou)`` of same-label boxes with IoU >= threshold."""
    if not len(a) or not len(b):
        return []
    from scipy.optimize import linear_sum_assignment

    iou = iou_matrix(a, b)
    same = np.array([[_label(x) == _label(y) for y in b] for x in a], dtype=bool)
    allowed = same & (iou >= threshold)
    if not allowed.any():
        return []
    weights = np.where(allowed, iou, 0.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [
        (int(i), int(j), float(iou[i, j])) for i, j in zip(rows, cols, strict=True) if allowed[i, j]
    ]


def box_f1(a: Sequence[Any], b: Sequence[Any], *, threshold: float = 0.5) -> float:
    """Rule 3: the F1 of two images' boxes, IoU-matched (1.0 when both are empty)."""
    if not len(a) and not len(b):
        return 1.0
    return 2 * len(match_boxes(a, b, threshold=threshold)) / (len(a) + len(b))
