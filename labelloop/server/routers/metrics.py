"""Quality metrics of a project: agreement between annotators and with reviewers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelloop.engine import agreement
from labelloop.server.deps import DbDep, GuardedRoute, LabellerUser, ProjectMember
from labelloop.server.schemas import AgreementPublic

__all__ = ["router"]

router = APIRouter(tags=["metrics"], route_class=GuardedRoute)


@router.get("/projects/{project_id}/metrics/agreement", response_model=AgreementPublic)
def agreement_metrics(project: ProjectMember, user: LabellerUser, db: DbDep) -> Any:
    """Agreement between annotators (per pair and per annotator) and with reviewers."""
    return agreement.agreement_report(db, project.id)
