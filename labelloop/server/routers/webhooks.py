"""Webhooks of a project (admin): register, list, delete, and see their deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from labelloop.engine import webhooks as webhook_engine
from labelloop.server import deps
from labelloop.server.errors import ApiError
from labelloop.server.schemas import DeliveryInfo, WebhookCreate, WebhookId, WebhookInfo

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], route_class=deps.GuardedRoute, dependencies=[deps.AdminOnly])


@router.get("/projects/{project_id}/webhooks", response_model=list[WebhookInfo])
def list_webhooks(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """The project's webhooks (without secrets)."""
    return webhook_engine.list_webhooks(db, project.id)


@router.post(
    "/projects/{project_id}/webhooks",
    response_model=WebhookInfo,
    status_code=status.HTTP_201_CREATED,
)
def register_webhook(
    project: deps.ProjectMember, body: WebhookCreate, user: deps.AdminUser, db: deps.DbDep
) -> Any:
    """Register a URL for events; deliveries carry ``X-Labelloop-Signature: sha256=<hmac>``.

    The answer holds the HMAC secret, once.
    """
    return webhook_engine.register_webhook(
        db,
        actor=deps.actor_for(user),
        project_id=project.id,
        url=body.url,
        events=body.events,
        secret=body.secret,
    )


@router.delete("/projects/{project_id}/webhooks/{webhook_id}", status_code=204)
def delete_webhook(
    project: deps.ProjectMember, webhook_id: WebhookId, user: deps.AdminUser, db: deps.DbDep
) -> Response:
    """Delete a webhook and its pending deliveries."""
    webhook_engine.delete_webhook(
        db, actor=deps.actor_for(user), project_id=project.id, webhook_id=webhook_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/projects/{project_id}/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryInfo],
)
def list_deliveries(project: deps.ProjectMember, webhook_id: WebhookId, db: deps.DbDep) -> Any:
    """A webhook's deliveries with their attempts and outcome."""
    if all(hook.id != webhook_id for hook in webhook_engine.list_webhooks(db, project.id)):
        raise ApiError(404, f"no webhook {webhook_id} in this project", field="webhook_id")
    return webhook_engine.list_deliveries(db, webhook_id)
