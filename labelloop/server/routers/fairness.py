"""The fairness report: per group of the project's group attributes (admins, reviewers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.engine import fairness
from labelloop.server import deps
from labelloop.server.schemas import FairnessReport

__all__ = ["router"]

router = APIRouter(tags=["fairness"], route_class=deps.GuardedRoute)


@router.get(
    "/projects/{project_id}/fairness",
    response_model=FairnessReport,
    dependencies=[deps.ReviewerOnly],
)
def report(
    project: deps.ProjectMember,
    db: deps.DbDep,
    field: Annotated[list[str] | None, Query(max_length=10)] = None,
) -> Any:
    """Per group: shares of the pool, the labels and the evaluation set; label counts;
    agreement; the model's accuracy and macro-F1 with intervals; and the flags.
    ``field`` (repeatable) picks metadata keys other than the project's ``group_fields``."""
    return fairness.fairness_report(db, project=project.id, fields=field)
