"""Stream mode: an arriving item gets its decision at once (model accounts and admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from labelloop.engine import stream
from labelloop.server import deps
from labelloop.server.schemas import StreamOffer, StreamStatus

__all__ = ["router"]

router = APIRouter(tags=["stream"], route_class=deps.GuardedRoute)


@router.post("/projects/{project_id}/stream", response_model=StreamOffer)
def offer(
    project: deps.ProjectMember,
    user: deps.ModelClient,
    db: deps.DbDep,
    record: dict[str, Any] = Body(  # noqa: B008 - FastAPI's way to take a free-form body
        ..., examples=[{"id": "s1", "text": "a review that just arrived"}]
    ),
) -> Any:
    """Offer one arriving item (an import record, without a label): the latest model scores
    it and the project's stream budget decides, `ask` (queued for people now),
    `auto-label` (hybrid automation on and the model certified sure of it: `label` says
    which) or `park` (kept in the pool), with the reason."""
    return stream.offer_item(db, project=project.id, record=record, actor=deps.actor_for(user))


@router.get("/projects/{project_id}/stream", response_model=StreamStatus)
def status(project: deps.ProjectMember, user: deps.ModelClient, db: deps.DbDep) -> Any:
    """The stream so far: arrivals, asks, the budget's bound and the threshold."""
    return stream.stream_status(db, project=project.id)
