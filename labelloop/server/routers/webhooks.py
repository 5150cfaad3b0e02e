"""Webhooks of a project (admin): register, list, delete, and see their deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from labelloop.engine import webhooks as webhook_engine
from labelloop.server.deps import (
    AdminOnly,
    AdminUser,
    DbDep,
    GuardedRoute,
    ProjectMember,
    actor_for,
)
from labelloop.server.errors import ApiError
from labelloop.server.schemas import WebhookCreate

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], route_class=GuardedRoute, dependencies=[AdminOnly])

WebhookId = Annotated[int, Path(ge=1, le=2**62, description="The webhook's id.")]


class WebhookPublic(BaseModel):
    """A webhook; ``secret`` (the HMAC key) is only in the answer to its registration."""

    id: int
    project_id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: dt.datetime
    secret: str | None = None


class DeliveryPublic(BaseModel):
    id: int
    webhook_id: int
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None


@router.get("/projects/{project_id}/webhooks", response_model=list[WebhookPublic])
def list_webhooks(project: ProjectMember, db: DbDep) -> Any:
    """The project's webhooks (without secrets)."""
    return webhook_engine.list_webhooks(db, project.id)


@router.post(
    "/projects/{project_id}/webhooks",
    response_model=WebhookPublic,
    status_code=status.HTTP_201_CREATED,
)
def register_webhook(
    project: ProjectMember, body: WebhookCreate, user: AdminUser, db: DbDep
) -> Any:
    """Register a URL for events; deliveries carry ``X-Labelloop-Signature: sha256=<hmac>``.

    The answer holds the HMAC secret, once.
    """
    return webhook_engine.register_webhook(
        db,
        actor=actor_for(user),
        project_id=project.id,
        url=body.url,
        events=body.events,
        secret=body.secret,
    )


@router.delete("/projects/{project_id}/webhooks/{webhook_id}", status_code=204)
def delete_webhook(
    project: ProjectMember, webhook_id: WebhookId, user: AdminUser, db: DbDep
) -> Response:
    """Delete a webhook and its pending deliveries."""
    webhook_engine.delete_webhook(
        db, actor=actor_for(user), project_id=project.id, webhook_id=webhook_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/projects/{project_id}/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryPublic],
)
def list_deliveries(project: ProjectMember, webhook_id: WebhookId, db: DbDep) -> Any:
    """A webhook's deliveries with their attempts and outcome."""
    if all(hook.id != webhook_id for hook in webhook_engine.list_webhooks(db, project.id)):
        raise ApiError(404, f"no webhook {webhook_id} in this project", field="webhook_id")
    return webhook_engine.list_deliveries(db, webhook_id)
