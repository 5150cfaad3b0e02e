"""The label queue, annotations, review, and what the labelling and review views ask.

Tasks, annotations, review tasks and outcomes, progress, the model's guess, item pages
and histories, feedback and the page's pulse are answered as the engine's results
(`TaskInfo`, `AnnotationInfo`, `ReviewTaskInfo`, `ReviewOutcome`, ...): their fields
are the JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from labelloop.engine.browse import (
    AnnotatorProgress,
    ItemGuess,
    ItemHistory,
    ItemPage,
    ItemTokens,
    RecentLabel,
    SavedFilter,
)
from labelloop.engine.core.items import AnnotationInfo
from labelloop.engine.feedback import FeedbackPage, Pulse
from labelloop.engine.queue import TaskInfo
from labelloop.engine.review import ReviewOutcome, ReviewTaskInfo
from labelloop.server.schemas.common import RequestModel

__all__ = [
    "AnnotationCreate",
    "BoxCreate",
    "SpanCreate",
    "AnnotationChange",
    "AnnotationInfo",
    "AnnotatorProgress",
    "FeedbackPage",
    "ItemGuess",
    "ItemHistory",
    "ItemPage",
    "ItemTokens",
    "Pulse",
    "RecentLabel",
    "ReviewCreate",
    "ReviewOutcome",
    "ReviewTaskInfo",
    "SavedFilter",
    "SavedFilterCreate",
    "SkipCreate",
    "TaskInfo",
]


class SkipCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class SavedFilterCreate(RequestModel):
    """A name and the item browser's query to keep under it (saving a name again replaces it)."""

    name: str = Field(min_length=1, max_length=100)
    filters: dict[str, str] = Field(
        default_factory=dict,
        description="The browser's fields: q, meta, status, label, annotator, min_score, "
        "max_score, skipped, sort.",
    )


class SpanCreate(RequestModel):
    """One entity of an entity (``ner``) project: characters ``[start, end)`` of the text."""

    start: int
    end: int
    label: str = Field(max_length=200)


class BoxCreate(RequestModel):
    """One box of a box (``boxes``) project: ``[x1, y1, x2, y2]`` in image pixels."""

    bbox: list[float] = Field(min_length=4, max_length=4)
    label: str = Field(max_length=200)


# A label: a name, or an entity project's spans (checked against the item's text).
Label = str | list[SpanCreate] | None
# A box project's label: the image's boxes (an empty list: nothing in the image).
Boxes = list[BoxCreate] | None
_BOXES = Field(
    default=None,
    max_length=10_000,
    description="A box project's label: the image's boxes (give them here, not as label).",
)


def _plain(label: Label, boxes: Boxes = None) -> Any:
    if boxes is not None:
        if label is not None:
            return label  # both given: the engine refuses the label of the wrong kind
        return [box.model_dump() for box in boxes]
    if isinstance(label, list):
        return [span.model_dump() for span in label]
    return label


class AnnotationCreate(RequestModel):
    label: Label = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    boxes: Boxes = _BOXES
    time_spent_ms: int | None = Field(default=None, ge=0, le=7 * 24 * 3600 * 1000)
    unsure: bool = Field(default=False, description="The annotator doubts the label.")
    comment: str | None = Field(
        default=None, max_length=2000, description="Words for reviewers and admins."
    )

    def label_value(self) -> Any:
        """The label as the engine takes it (spans and boxes as plain mappings)."""
        return _plain(self.label, self.boxes)


class AnnotationChange(RequestModel):
    """A new label for one's own annotation; ``unsure`` / ``comment`` left out stay as
    they were ("" clears the comment)."""

    label: Label = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    boxes: Boxes = _BOXES
    unsure: bool | None = None
    comment: str | None = Field(default=None, max_length=2000)

    def label_value(self) -> Any:
        """The label as the engine takes it (spans and boxes as plain mappings)."""
        return _plain(self.label, self.boxes)


class ReviewCreate(RequestModel):
    """A verdict; ``correct`` needs the label (``labels`` for multi-label projects, the
    spans as ``label`` for entity projects, ``boxes`` for box projects)."""

    verdict: Literal["accept", "reject", "correct"]
    label: Label = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    boxes: Boxes = _BOXES
    note: str | None = Field(default=None, max_length=5000)

    def label_value(self) -> Any:
        """The label as the engine takes it (spans and boxes as plain mappings)."""
        return _plain(self.label, self.boxes)
