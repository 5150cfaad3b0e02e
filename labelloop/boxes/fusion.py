"""Several annotators' boxes on one image fused into one list, or their disagreement named.

Rules
-----
1. Annotators are taken in the order given (the engine gives them oldest vote first).
   The first annotator's boxes start one group each; each next annotator's boxes are
   matched one to one to the groups' current fused boxes by `match_boxes` (same label,
   IoU >= ``threshold``, the Hungarian method); a matched box joins its group, an
   unmatched one starts a group of its own. A group never holds two boxes of one
   annotator.
2. With ``n`` annotators and ``needed`` of them required (``needed > n / 2``), a group
   drawn by ``k`` annotators is *kept* when ``k >= needed`` and *dropped* when
   ``n - k >= needed`` (that many annotators agree the box is not there). Any other
   group is undecided, and then the image is undecided as a whole: no fused label, and
   every box of every undecided group is named (annotator, its position in their list,
   its label and coordinates) so a reviewer sees what to settle.
3. A kept group's box has the group's label and, per coordinate, the mean (``mean``) or
   the median (``median``) of its members' coordinates. Fused boxes are listed in the
   order their groups were started, so the result does not depend on float noise.
4. ``needed == n`` (every annotator) keeps only boxes everybody drew and drops none:
   any box some annotator drew and another did not makes the image undecided.
5. Every annotator drawing nothing is agreement on an empty image: the fused label is
   ``[]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.boxes.geometry import Box, check_boxes, match_boxes
from labelloop.exceptions import ValidationError

__all__ = ["FUSE_METHODS", "BoxFusion", "UnmatchedBox", "fuse_boxes", "needed_annotators"]

FUSE_METHODS = ("mean", "median")


@dataclass(frozen=True)
class UnmatchedBox:
    """A box no decision could be made on: who drew it, where in their list, and what."""

    annotator: str
    position: int
    label: str
    bbox: list[float]
    agreeing: int

    def describe(self) -> str:
        coords = ", ".join(f"{v:g}" for v in self.bbox)
        return (
            f"{self.annotator}'s box {self.position} ({self.label} [{coords}]), "
            f"drawn by {self.agreeing} annotator(s)"
        )


@dataclass(frozen=True)
class BoxFusion:
    """The outcome of `fuse_boxes`.

    Attributes
    ----------
    boxes : list of dict or None
        The fused boxes ``{"bbox", "label"}`` when decided, else None.
    unanimous : bool
        Whether every group was drawn by every annotator (nothing dropped).
    unmatched : tuple of UnmatchedBox
        The boxes of undecided groups (empty when decided).
    dropped : tuple of UnmatchedBox
        The boxes of groups outvoted (drawn by too few annotators) in a decided image.
    """

    boxes: list[dict[str, Any]] | None
    unanimous: bool
    unmatched: tuple[UnmatchedBox, ...] = field(default_factory=tuple)
    dropped: tuple[UnmatchedBox, ...] = field(default_factory=tuple)

    @property
    def decided(self) -> bool:
        return self.boxes is not None


def needed_annotators(n: int, share: float) -> int:
    """How many of ``n`` annotators must agree on a box under ``share`` (> 0.5, <= 1).

    Examples
    --------
    >>> needed_annotators(3, 1.0), needed_annotators(3, 0.6), needed_annotators(2, 0.6)
    (3, 2, 2)
    """
    if not 0.5 < share <= 1:
        raise ValidationError(
            f"box agreement share must be above 0.5 and at most 1, got {share!r}",
            field="box_consensus_share",
        )
    return max(1, min(n, math.ceil(share * n - 1e-9)))


def _fused(members: list[Box], method: str) -> Box:
    coords = np.array([m[:4] for m in members], dtype=float)
    centre = coords.mean(axis=0) if method == "mean" else np.median(coords, axis=0)
    x1, y1, x2, y2 = (round(float(v), 6) for v in centre)
    return Box(x1, y1, x2, y2, members[0].label)


def fuse_boxes(
    annotations: Sequence[tuple[str, Any]],
    *,
    threshold: float = 0.5,
    needed: int | None = None,
    method: str = "mean",
) -> BoxFusion:
    """Fuse several annotators' boxes of one image (rules 1 to 5).

    Parameters
    ----------
    annotations : sequence of (annotator, boxes)
        One entry per annotator, each boxes list as `check_boxes` reads it.
    threshold : float
        The IoU from which two same-label boxes are the same box.
    needed : int, optional
        Annotators who must agree on each box (default: all of them); more than half.
    method : {"mean", "median"}
        How a kept group's coordinates are combined.

    Examples
    --------
    >>> a = [{"bbox": [0, 0, 10, 10], "label": "cat"}]
    >>> b = [{"bbox": [1, 1, 11, 11], "label": "cat"}]
    >>> fuse_boxes([("ann", a), ("bob", b)]).boxes
    [{'bbox': [0.5, 0.5, 10.5, 10.5], 'label': 'cat'}]
    """
    if method not in FUSE_METHODS:
        raise ValidationError(
            f"box fusion method must be one of {list(FUSE_METHODS)}, got {method!r}",
            field="box_fuse",
        )
    if not 0 < threshold <= 1:
        raise ValidationError(
            f"box agreement IoU must be above 0 and at most 1, got {threshold!r}",
            field="box_consensus_iou",
        )
    n = len(annotations)
    if n == 0:
        raise ValidationError("no annotations to fuse", field="annotations")
    needed = n if needed is None else needed
    if not (n / 2 < needed <= n):
        raise ValidationError(
            f"{needed} of {n} annotators cannot decide a box: more than half are needed",
            field="box_consensus_share",
        )
    # Each group: its members as (annotator, position, box), and its current fused box.
    groups: list[list[tuple[str, int, Box]]] = []
    fused: list[Box] = []
    for annotator, raw in annotations:
        boxes = check_boxes(raw, item=None)
        pairs = match_boxes(fused, boxes, threshold=threshold) if fused else []
        taken = set()
        for group_index, box_index, _ in pairs:
            groups[group_index].append((annotator, box_index, boxes[box_index]))
            taken.add(box_index)
            fused[group_index] = _fused([b for _, _, b in groups[group_index]], method)
        for box_index, box in enumerate(boxes):
            if box_index not in taken:
                groups.append([(annotator, box_index, box)])
                fused.append(box)
    kept: list[dict[str, Any]] = []
    undecided: list[UnmatchedBox] = []
    dropped: list[UnmatchedBox] = []
    for group, box in zip(groups, fused, strict=True):
        k = len(group)
        named = [UnmatchedBox(who, position, b.label, b.bbox, k) for who, position, b in group]
        if k >= needed:
            kept.append(box.as_dict())
        elif n - k >= needed:
            dropped.extend(named)
        else:
            undecided.extend(named)
    unanimous = all(len(group) == n for group in groups)
    if undecided:
        return BoxFusion(boxes=None, unanimous=False, unmatched=tuple(undecided))
    return BoxFusion(boxes=kept, unanimous=unanimous, dropped=tuple(dropped))
