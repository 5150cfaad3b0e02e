"""Webhooks of a project (admin): register, list, delete, and see their deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

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
from labelloop.server.schemas import DeliveryInfo, WebhookCreate, WebhookId, WebhookInfo

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], route_class=GuardedRoute, dependencies=[AdminOnly])


@router.get("/projects/{project_id}/webhooks", response_model=list[WebhookInfo])
def list_webhooks(project: ProjectMember, db: DbDep) -> Any:
    """The project's webhooks (without secrets)."""
    return webhook_engine.list_webhooks(db, project.id)


@router.post(
    "/projects/{project_id}/webhooks",
    response_model=WebhookInfo,
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
    response_model=list[DeliveryInfo],
)
def list_deliveries(project: ProjectMember, webhook_id: WebhookId, db: DbDep) -> Any:
    """A webhook's deliveries with their attempts and outcome."""
    if all(hook.id != webhook_id for hook in webhook_engine.list_webhooks(db, project.id)):
        raise ApiError(404, f"no webhook {webhook_id} in this project", field="webhook_id")
    return webhook_engine.list_deliveries(db, webhook_id)
