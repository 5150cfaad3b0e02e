"""Guidelines that learn: the disagreements, examples added to the guidelines, and the
rates per guideline version.

Answers are the engine's results (`DisagreementReport`, `GuidelineInfo`,
`GuidelineVersionRates`): their fields are the JSON.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from labelloop.engine.disagreements import DisagreementReport
from labelloop.engine.projects import MAX_EXAMPLES, GuidelineInfo, GuidelineVersionRates
from labelloop.server.schemas.common import Id, RequestModel

__all__ = [
    "DisagreementReport",
    "GuidelineExamplesCreate",
    "GuidelineInfo",
    "GuidelineVersionList",
    "GuidelineVersionRates",
]


class GuidelineExamplesCreate(RequestModel):
    """Items (ids) to show beside the guidelines with their label, and what they teach."""

    item_ids: list[Id] = Field(min_length=1, max_length=MAX_EXAMPLES)
    note: str = Field(min_length=1, max_length=2000)


class GuidelineVersionList(BaseModel):
    """Every guideline version, oldest first, with the rates of the labels made under it."""

    project_id: int
    current_version: int
    versions: list[GuidelineVersionRates]
