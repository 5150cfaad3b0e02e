"""Review: lease the next item in review, and accept, reject or correct it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from labelloop.engine import review
from labelloop.server.deps import (
    DbDep,
    GuardedRoute,
    ProjectMember,
    ReviewerUser,
    ReviewTaskMember,
)
from labelloop.server.routers.tasks import ItemPublic
from labelloop.server.schemas import AnnotationPublic, ReviewCreate

__all__ = ["router"]

router = APIRouter(tags=["reviews"], route_class=GuardedRoute)

ReviewTaskId = Annotated[int, Path(ge=1, le=2**62, description="The review task's id.")]


class ModelGuessPublic(BaseModel):
    model_version: int
    model_name: str
    label: Any
    probabilities: dict[str, float]


class ReviewTaskPublic(BaseModel):
    """An item leased for review, with the annotations under review and the model's guess."""

    id: int
    project_id: int
    item: ItemPublic
    reason: str
    annotations: list[AnnotationPublic]
    model_guess: ModelGuessPublic | None
    provisional_label: Any
    lease_expires_at: dt.datetime


class ReviewOutcomePublic(BaseModel):
    review_task_id: int
    item_id: int
    item_external_id: str
    verdict: str
    item_status: str
    final_label: Any
    review_ids: list[int]
    correction_id: int | None


@router.post(
    "/projects/{project_id}/reviews/next",
    response_model=ReviewTaskPublic,
    responses={204: {"description": "Nothing waits for review."}},
)
def lease_next_review(project: ProjectMember, user: ReviewerUser, db: DbDep) -> Any:
    """Lease the next item in review to the caller (no body); 204 when none."""
    task = review.lease_next_review(db, project_id=project.id, user=user)
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return task


@router.post(
    "/reviews/{review_task_id}",
    response_model=ReviewOutcomePublic,
    dependencies=[ReviewTaskMember],
)
def submit_review(
    review_task_id: ReviewTaskId, body: ReviewCreate, user: ReviewerUser, db: DbDep
) -> Any:
    """Accept, reject (back to the queue with the note) or correct (the new label wins)."""
    return review.submit_review(
        db,
        review_task_id=review_task_id,
        user=user,
        verdict=body.verdict,
        label=body.label,
        labels=body.labels,
        note=body.note,
    )
