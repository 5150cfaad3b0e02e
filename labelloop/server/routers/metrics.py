"""Quality metrics of a project: agreement between annotators and with reviewers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from labelloop.engine import agreement
from labelloop.server.deps import DbDep, GuardedRoute, HumanUser, ProjectMember

__all__ = ["router"]

router = APIRouter(tags=["metrics"], route_class=GuardedRoute)


class ReviewCountsPublic(BaseModel):
    reviewed: int
    accepted: int
    corrected: int
    rejected: int
    review_agreement: float | None


class PairAgreementPublic(BaseModel):
    annotators: list[str]
    n_items: int
    kappa: float | None
    percent_agreement: float | None


class AnnotatorAgreementPublic(ReviewCountsPublic):
    name: str
    n_annotations: int
    mean_kappa: float | None


class AgreementPublic(BaseModel):
    """Cohen's kappa per pair, Krippendorff's alpha with overlap > 2, agreement with reviewers."""

    project_id: int
    n_items_shared: int
    percent_agreement: float | None
    krippendorff_alpha: float | None
    pairs: list[PairAgreementPublic]
    annotators: list[AnnotatorAgreementPublic]
    reviews: ReviewCountsPublic


@router.get("/projects/{project_id}/metrics/agreement", response_model=AgreementPublic)
def agreement_metrics(project: ProjectMember, user: HumanUser, db: DbDep) -> Any:
    """Agreement between annotators (per pair and per annotator) and with reviewers."""
    return agreement.agreement_report(db, project.id)
