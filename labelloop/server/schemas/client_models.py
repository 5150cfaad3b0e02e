"""Client models: predictions pushed in, final labels pulled out.

A push is answered as the engine's `PushReport`. A label page keeps its own model: the
engine hands rows as dicts with ``label`` or ``labels``, and the API leaves out the other.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from labelloop.engine.predictions import PushReport
from labelloop.server.schemas.common import RequestModel

__all__ = [
    "LabelPagePublic",
    "LabelRowPublic",
    "PredictionCreate",
    "PredictionsCreate",
    "PushReport",
    "SpanPredictionCreate",
]


class SpanPredictionCreate(RequestModel):
    """One entity a client model found: characters ``[start, end)`` of the item's text,
    its type, and the model's confidence in it from 0 to 1."""

    start: int
    end: int
    label: str = Field(min_length=1, max_length=200)
    score: float


class PredictionCreate(RequestModel):
    """One item's prediction: ``probabilities`` for a whole-item project; a box project's
    image's ``boxes`` (an empty list: nothing detected); ``spans`` (and optionally the
    item's informativeness as ``score``) for an entity project. The engine checks which
    the project takes, and spans against the item's text."""

    item_id: str = Field(min_length=1, max_length=300)
    probabilities: dict[str, float] | None = Field(default=None, min_length=1, max_length=1000)
    # Checked box by box by the engine, whose errors name predictions.<i>.boxes.<j>.<field>:
    # a model per box would cost more than the push itself at 100 boxes an image.
    boxes: list[Any] | None = Field(
        default=None,
        max_length=10_000,
        description="A box project's detections on the image: "
        '[{"bbox": [x1, y1, x2, y2] in pixels, "label": class, "score": 0..1, '
        '"probabilities": optional, by label or in label order}]; [] when nothing was found.',
    )
    embedding: list[float] | None = Field(default=None, max_length=4096)
    spans: list[SpanPredictionCreate] | None = Field(default=None, max_length=1000)
    score: float | None = None


class PredictionsCreate(RequestModel):
    model_version: str = Field(min_length=1, max_length=200)
    predictions: list[PredictionCreate] = Field(min_length=1, max_length=10_000)


class LabelRowPublic(BaseModel):
    """One change of an item's final label: the label that now stands (``label``, or
    ``labels`` for multi-label, ``spans`` for an entity project), or ``withdrawn: true``
    when it holds none any more."""

    item_id: str
    label: str | list[dict[str, Any]] | None = None
    labels: list[str] | None = None
    spans: list[dict[str, Any]] | None = None
    withdrawn: bool | None = None


class LabelPagePublic(BaseModel):
    """One page of changes; pass ``next_cursor`` as ``since`` for the next (also to poll
    later)."""

    labels: list[LabelRowPublic]
    next_cursor: str
    has_more: bool
