"""Request and response bodies, one family per resource (``...Create`` in, ``...Public`` out).

Every request model forbids unknown fields and caps its sizes; the engine validates
meaning (labels against the project's schema, settings, verdicts) and names the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_ID",
    "ROLES",
    "Id",
    "WEBHOOK_EVENTS",
    "AnnotationCreate",
    "AnnotationPublic",
    "ErrorPublic",
    "GuidelinesPublic",
    "GuidelinesUpdate",
    "HealthPublic",
    "ItemsCreate",
    "LoginCreate",
    "MemberCreate",
    "PredictionCreate",
    "PredictionsCreate",
    "ProjectCreate",
    "ProjectPublic",
    "ReviewCreate",
    "SessionPublic",
    "SkipCreate",
    "TokenCreate",
    "UserCreate",
    "WebhookCreate",
]

ROLES = ("admin", "annotator", "reviewer", "model")
WEBHOOK_EVENTS = ("annotation.created", "review.completed", "round.completed", "batch.ready")
WebhookEvent = Literal["annotation.created", "review.completed", "round.completed", "batch.ready"]

# Ids fit a signed 64-bit integer (SQLite's INTEGER, PostgreSQL's BIGINT).
MAX_ID = 2**62
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Field(min_length=1, max_length=200)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200_000)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorPublic(BaseModel):
    """Every error: a short name, a message for people, and the field at fault."""

    error: str
    detail: str
    field: str | None = None


class HealthPublic(BaseModel):
    status: Literal["ok"]
    version: str


# --------------------------------------------------------------------------- auth


class LoginCreate(_In):
    name: str = Name
    password: str = Field(min_length=1, max_length=1000)


class SessionPublic(BaseModel):
    """The logged-in user and the CSRF token to send as ``X-CSRF-Token`` on writes."""

    user: UserPublic
    csrf_token: str


# --------------------------------------------------------------------------- users, tokens


class UserPublic(_Out):
    id: int
    name: str
    role: str
    is_active: bool


class UserCreate(_In):
    name: str = Name
    role: Literal["admin", "annotator", "reviewer", "model"]
    password: str | None = Field(default=None, min_length=8, max_length=1000)
    projects: list[Id] = Field(default_factory=list, max_length=1000)


class UserCreatedPublic(BaseModel):
    """A new user and their first API token (shown this once)."""

    user: UserPublic
    token: str


class TokenCreate(_In):
    user_id: Id
    name: str = Field(default="", max_length=200)


class MemberCreate(_In):
    user_id: Id


# --------------------------------------------------------------------------- projects


class ProjectCreate(_In):
    name: str = Name
    task_type: Literal["classification", "tabular", "image", "audio", "video"]
    labels: list[str] = Field(min_length=1, max_length=1000)
    multi_label: bool = False
    strategy: str = Field(default="auto", max_length=60)
    guidelines: str | None = Field(default=None, max_length=200_000)
    settings: dict[str, Any] | None = Field(default=None, max_length=50)


class ProjectPublic(_Out):
    id: int
    name: str
    task_type: str
    labels: list[str]
    multi_label: bool
    strategy: str
    settings: dict[str, Any]
    guideline_version: int
    created_at: dt.datetime
    n_items: int
    n_labelled: int
    n_open: int
    n_in_review: int


class GuidelinesUpdate(_In):
    text: str = Field(min_length=1, max_length=200_000)


class GuidelinesPublic(_Out):
    project_id: int
    version: int
    text: str
    created_by: str
    created_at: dt.datetime | None


class ItemsCreate(_In):
    """Records as the import files hold them (``id``, ``text`` or fields, ``label``, ...)."""

    records: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)


# --------------------------------------------------------------------------- labelling


class SkipCreate(_In):
    reason: str = Field(min_length=1, max_length=500)


class AnnotationCreate(_In):
    label: str | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    time_spent_ms: int | None = Field(default=None, ge=0, le=7 * 24 * 3600 * 1000)


class AnnotationPublic(_Out):
    """An annotation, with the item's status and final label after it."""

    id: int
    project_id: int
    item_id: int
    item_external_id: str
    task_id: int | None
    user_id: int | None
    actor: str
    source: str
    label: Any
    time_spent_ms: int | None
    guideline_version: int | None
    status: str
    created_at: dt.datetime
    item_status: str
    final_label: Any


class ReviewCreate(_In):
    """A verdict; ``correct`` needs the label (``labels`` for multi-label projects)."""

    verdict: Literal["accept", "reject", "correct"]
    label: str | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)
    note: str | None = Field(default=None, max_length=5000)


# --------------------------------------------------------------------------- client models


class PredictionCreate(_In):
    item_id: str = Field(min_length=1, max_length=300)
    probabilities: dict[str, float] = Field(min_length=1, max_length=1000)
    embedding: list[float] | None = Field(default=None, max_length=4096)


class PredictionsCreate(_In):
    model_version: str = Field(min_length=1, max_length=200)
    predictions: list[PredictionCreate] = Field(min_length=1, max_length=10_000)


class WebhookCreate(_In):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[
        Literal["annotation.created", "review.completed", "round.completed", "batch.ready"]
    ] = Field(min_length=1, max_length=4)
    secret: str | None = Field(default=None, min_length=16, max_length=200)


SessionPublic.model_rebuild()
