"""Review: lease the next item in review, and accept, reject or correct it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from labelloop.engine import review
from labelloop.server.deps import (
    DbDep,
    GuardedRoute,
    ProjectMember,
    ReviewerUser,
    ReviewTaskMember,
    SettingsDep,
)
from labelloop.server.schemas import ReviewCreate, ReviewOutcome, ReviewTaskId, ReviewTaskInfo

__all__ = ["router"]

router = APIRouter(tags=["reviews"], route_class=GuardedRoute)


@router.post(
    "/projects/{project_id}/reviews/next",
    response_model=ReviewTaskInfo,
    responses={204: {"description": "Nothing waits for review."}},
)
def lease_next_review(
    project: ProjectMember, user: ReviewerUser, db: DbDep, settings: SettingsDep
) -> Any:
    """Lease the next item in review to the caller (no body); 204 when none."""
    task = review.lease_next_review(
        db, project_id=project.id, user=user, lease_seconds=settings.lease_seconds
    )
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return task


@router.post(
    "/reviews/{review_task_id}",
    response_model=ReviewOutcome,
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
