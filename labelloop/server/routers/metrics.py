"""Quality metrics of a project: agreement between annotators and with reviewers, each
annotator's estimated accuracy, and a new Dawid-Skene fit on demand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelloop.engine import agreement, consensus
from labelloop.server.deps import (
    AdminUser,
    DbDep,
    GuardedRoute,
    LabellerUser,
    ProjectMember,
    actor_for,
)
from labelloop.server.schemas import AgreementPublic, AnnotatorsPublic, ConsensusFitPublic

__all__ = ["router"]

router = APIRouter(tags=["metrics"], route_class=GuardedRoute)


@router.get("/projects/{project_id}/metrics/agreement", response_model=AgreementPublic)
def agreement_metrics(project: ProjectMember, user: LabellerUser, db: DbDep) -> Any:
    """Agreement between annotators (per pair and per annotator) and with reviewers."""
    return agreement.agreement_report(db, project.id)


@router.get("/projects/{project_id}/annotators", response_model=AnnotatorsPublic)
def annotators(project: ProjectMember, user: LabellerUser, db: DbDep) -> Any:
    """Per annotator: labels, kappa with the others, agreement with reviewers, and the
    accuracy a Dawid-Skene fit of the items with several annotators estimates."""
    report = agreement.agreement_report(db, project.id)
    return {
        "project_id": project.id,
        "consensus": report["consensus"],
        "n_items_shared": report["n_items_shared"],
        "annotators": report["annotators"],
    }


@router.post("/projects/{project_id}/consensus", response_model=ConsensusFitPublic)
def fit_consensus(project: ProjectMember, user: AdminUser, db: DbDep) -> Any:
    """Fit the annotators by Dawid-Skene now and settle the items with several annotators
    again by the project's ``consensus`` setting (rounds do it too)."""
    return consensus.fit_annotators(db, project=project.id, actor=actor_for(user))
