"""The label queue, annotations, review, and what the labelling and review views ask.

Tasks, annotations, review tasks and outcomes, progress, the model's guess, item pages
and histories, feedback and the page's pulse are answered as the engine's results
(`TaskInfo`, `AnnotationInfo`, `ReviewTaskInfo`, `ReviewOutcome`, ...): their fields
are the JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from labelloop.engine.browse import AnnotatorProgress, ItemGuess, ItemHistory, ItemPage
from labelloop.engine.core.items import AnnotationInfo
from labelloop.engine.feedback import FeedbackPage, Pulse
from labelloop.engine.queue import TaskInfo
from labelloop.engine.review import ReviewOutcome, ReviewTaskInfo
from labelloop.server.schemas.common import RequestModel

__all__ = [
    "AnnotationCreate",
    "AnnotationInfo",
    "AnnotatorProgress",
    "FeedbackPage",
    "ItemGuess",
    "ItemHistory",
    "ItemPage",
    "Pulse",
    "ReviewCreate",
    "ReviewOutcome",
    "ReviewTaskInfo",
    "SkipCreate",
    "TaskInfo",
]


class SkipCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class AnnotationCreate(RequestModel):
    label: str | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    time_spent_ms: int | None = Field(default=None, ge=0, le=7 * 24 * 3600 * 1000)


class ReviewCreate(RequestModel):
    """A verdict; ``correct`` needs the label (``labels`` for multi-label projects)."""

    verdict: Literal["accept", "reject", "correct"]
    label: str | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    note: str | None = Field(default=None, max_length=5000)
