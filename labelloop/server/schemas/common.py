"""What every resource shares: ids, the request and response bases, errors, health.

Ids fit a signed 64-bit integer (SQLite's INTEGER, PostgreSQL's BIGINT): `Id` in bodies,
the ``...Id`` aliases in paths, both capped at `MAX_ID` so no request reaches the database
with an id it cannot hold.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_ID",
    "AnnotationId",
    "ErrorPublic",
    "HealthPublic",
    "Id",
    "ItemId",
    "LeaseHolder",
    "Name",
    "RequestModel",
    "ReviewTaskId",
    "TaskId",
    "TokenId",
    "UserId",
    "WebhookId",
]

MAX_ID = 2**62
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200)]

AnnotationId = Annotated[int, Path(ge=1, le=MAX_ID, description="The annotation's id.")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="The item's id.")]
LeaseHolder = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Who holds the lease among the caller's clients (a browser tab): asking "
        "again as the same holder answers the task it holds; another holder gets another task.",
    ),
]
ReviewTaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="The review task's id.")]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="The task's id.")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id.")]
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="The webhook's id.")]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused and strings capped."""

    model_config = ConfigDict(extra="forbid", str_max_length=200_000)


class ErrorPublic(BaseModel):
    """Every error: a short name, a message for people, and the field at fault."""

    error: str
    detail: str
    field: str | None = None


class HealthPublic(BaseModel):
    status: Literal["ok"]
    version: str
