"""Boxes on images: their checks, their overlap (IoU), matching and box F1, and an
image's informativeness from a detector's boxes, and several annotators' boxes fused.

Pure Python and numpy (matching uses scipy); the engine's box projects (task type
``boxes``) and the box formats (COCO, Label Studio ``rectanglelabels``) build on it.
"""

from labelloop.boxes.fusion import (
    FUSE_METHODS,
    BoxFusion,
    UnmatchedBox,
    fuse_boxes,
    needed_annotators,
)
from labelloop.boxes.geometry import (
    Box,
    box_f1,
    check_boxes,
    iou_matrix,
    match_boxes,
)
from labelloop.boxes.informativeness import (
    BOX_SCORES,
    box_uncertainties,
    check_pushed_boxes,
    image_informativeness,
)

__all__ = [
    "BOX_SCORES",
    "FUSE_METHODS",
    "BoxFusion",
    "UnmatchedBox",
    "fuse_boxes",
    "needed_annotators",
    "Box",
    "box_f1",
    "box_uncertainties",
    "check_boxes",
    "check_pushed_boxes",
    "image_informativeness",
    "iou_matrix",
    "match_boxes",
]
