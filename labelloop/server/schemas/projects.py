"""Projects, their guidelines, and bulk item import.

A project is answered as the engine's `ProjectInfo`. Guidelines keep their own model:
before the first version the API answers version 0 with no author and no date, which the
engine's `GuidelineInfo` (always a stored version) does not allow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from labelloop.engine.projects import GuidelineChanges, GuidelineExample, ProjectInfo
from labelloop.server.schemas.common import Name, RequestModel

__all__ = [
    "GuidelineChanges",
    "GuidelinesPublic",
    "GuidelinesUpdate",
    "ItemsCreate",
    "ProjectCreate",
    "ProjectInfo",
]


class ProjectCreate(RequestModel):
    name: Name
    task_type: Literal["classification", "tabular", "image", "audio", "video", "ner", "boxes"]
    labels: list[str] = Field(min_length=1, max_length=1000)
    multi_label: bool = False
    strategy: str = Field(default="auto", max_length=60)
    guidelines: str | None = Field(default=None, max_length=200_000)
    settings: dict[str, Any] | None = Field(default=None, max_length=50)


class GuidelinesUpdate(RequestModel):
    text: str = Field(min_length=1, max_length=200_000)


class GuidelinesPublic(BaseModel):
    project_id: int
    version: int
    text: str
    created_by: str
    created_at: dt.datetime | None
    note: str | None = None
    examples: list[GuidelineExample] = []


class ItemsCreate(RequestModel):
    """Records as the import files hold them (``id``, ``text`` or fields, ``label``, ...),
    and what to do with records whose id is already in the project."""

    records: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    on_existing: Literal["error", "skip", "update"] = "error"
    #: A box project's records with COCO's ``[x, y, width, height]`` boxes say ``xywh``.
    bbox_format: Literal["xyxy", "xywh"] | None = None
