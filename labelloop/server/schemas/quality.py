"""The suspect queue: suspect labels and the reviewers' rulings.

Listings and ruled suspects are answered as the engine's results (`SuspectList`,
`SuspectInfo`): their fields are the JSON.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import Field

from labelloop.engine.quality import SuspectInfo, SuspectList
from labelloop.server.schemas.common import MAX_ID, RequestModel

__all__ = ["SuspectId", "SuspectInfo", "SuspectList", "SuspectRuling"]

SuspectId = Annotated[int, Path(ge=1, le=MAX_ID, description="The suspect label's id.")]


class SuspectRuling(RequestModel):
    """``confirm`` (the label is wrong; ``label`` is the right one, default the model's
    suggestion) or ``clear`` (the label is right)."""

    verdict: Literal["confirm", "clear"]
    label: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=5000)
