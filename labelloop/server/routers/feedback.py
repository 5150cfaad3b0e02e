"""Reviewers' feedback to the caller, and the pulse an open labelling page polls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.engine import feedback
from labelloop.server import deps
from labelloop.server.schemas import FeedbackPage, Pulse

__all__ = ["router"]

router = APIRouter(tags=["feedback"], route_class=deps.GuardedRoute)


@router.get("/projects/{project_id}/feedback", response_model=FeedbackPage)
def my_feedback(
    project: deps.ProjectMember,
    user: deps.LabellerUser,
    db: deps.DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Any:
    """The caller's labels a reviewer rejected or corrected, newest first: the note, the
    reviewer's label and the item, each marked unread or not (nothing is marked seen)."""
    return feedback.my_feedback(db, project=project.id, user=user, limit=limit, offset=offset)


@router.post("/projects/{project_id}/feedback/seen", response_model=dict[str, int])
def mark_seen(project: deps.ProjectMember, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """Mark all of the caller's feedback in the project as seen (no body); answers how
    many entries were unread."""
    return {"marked": feedback.mark_feedback_seen(db, project=project.id, user=user)}


@router.get("/projects/{project_id}/pulse", response_model=Pulse)
def pulse(project: deps.ProjectMember, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """What an open page polls: the guideline version in force and the caller's unread
    feedback count (two indexed reads)."""
    return feedback.pulse(db, project_id=project.id, user=user)
