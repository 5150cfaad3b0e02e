"""Guidelines that learn from feedback: where people disagree, examples picked from there
as a new guideline version, and each version's agreement, correction and rejection rates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from labelloop.engine import disagreements
from labelloop.engine import projects as project_engine
from labelloop.server import deps
from labelloop.server.schemas.guidelines import (
    DisagreementReport,
    GuidelineExamplesCreate,
    GuidelineInfo,
    GuidelineVersionList,
)

__all__ = ["router"]

router = APIRouter(tags=["guidelines"], route_class=deps.GuardedRoute)


@router.get(
    "/projects/{project_id}/disagreements",
    response_model=DisagreementReport,
    dependencies=[deps.ReviewerOnly],
)
def get_disagreements(
    project: deps.ProjectMember,
    db: deps.DbDep,
    n_clusters: Annotated[int, Query(ge=1, le=50)] = 8,
    max_items: Annotated[int, Query(ge=2, le=50_000)] = 5000,
    min_rate: Annotated[float, Query(ge=0.0, le=1.0)] = 0.25,
    min_flagged: Annotated[int, Query(ge=1, le=10**6)] = 3,
) -> Any:
    """Corrections, confirmed label errors and annotator splits, grouped by confusion
    (this week and before) and by clusters of similar items; mislabelled clusters apart."""
    return disagreements.disagreement_report(
        db,
        project.id,
        n_clusters=n_clusters,
        max_items=max_items,
        min_rate=min_rate,
        min_flagged=min_flagged,
    )


@router.post(
    "/projects/{project_id}/guidelines/examples",
    response_model=GuidelineInfo,
    status_code=status.HTTP_201_CREATED,
    dependencies=[deps.AdminOnly],
)
def add_examples(
    project: deps.ProjectMember,
    user: deps.CurrentUser,
    db: deps.DbDep,
    body: GuidelineExamplesCreate,
) -> Any:
    """Make items guideline examples with a note (admin): a new guideline version, which
    annotators see from their next item."""
    return project_engine.add_guideline_examples(
        db,
        actor=deps.actor_for(user),
        project=project.id,
        item_ids=list(body.item_ids),
        note=body.note,
    )


@router.get(
    "/projects/{project_id}/guidelines/versions",
    response_model=GuidelineVersionList,
    dependencies=[deps.ReviewerOnly],
)
def list_versions(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """Every guideline version with the agreement, correction and rejection rates of the
    labels made under it."""
    versions = project_engine.guideline_versions(db, project.id)
    return GuidelineVersionList(
        project_id=project.id,
        current_version=max((v.version for v in versions), default=0),
        versions=list(versions),
    )
