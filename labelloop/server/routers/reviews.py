"""Review: lease the next item in review, and accept, reject or correct it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelloop.engine import review
from labelloop.server import deps
from labelloop.server.routers import or_no_content
from labelloop.server.schemas import ReviewCreate, ReviewOutcome, ReviewTaskId, ReviewTaskInfo

__all__ = ["router"]

router = APIRouter(tags=["reviews"], route_class=deps.GuardedRoute)


@router.post(
    "/projects/{project_id}/reviews/next",
    response_model=ReviewTaskInfo,
    responses={204: {"description": "Nothing waits for review."}},
)
def lease_next_review(
    project: deps.ProjectMember, user: deps.ReviewerUser, db: deps.DbDep, settings: deps.SettingsDep
) -> Any:
    """Lease the next item in review to the caller (no body); 204 when none."""
    return or_no_content(
        review.lease_next_review(
            db, project_id=project.id, user=user, lease_seconds=settings.lease_seconds
        )
    )


@router.post(
    "/reviews/{review_task_id}",
    response_model=ReviewOutcome,
    dependencies=[deps.ReviewTaskMember],
)
def submit_review(
    review_task_id: ReviewTaskId, body: ReviewCreate, user: deps.ReviewerUser, db: deps.DbDep
) -> Any:
    """Accept, reject (back to the queue with the note) or correct (the new label wins)."""
    return review.submit_review(
        db,
        review_task_id=review_task_id,
        user=user,
        verdict=body.verdict,
        label=body.label_value(),
        labels=body.labels,
        note=body.note,
    )
