"""The label feed: changes of final labels, page by page, for a client model's retraining
(model accounts and admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.engine import predictions
from labelloop.server.deps import DbDep, GuardedRoute, ModelClient, ProjectMember
from labelloop.server.schemas import LabelPagePublic, LabelRowPublic

__all__ = ["router"]

router = APIRouter(tags=["client models"], route_class=GuardedRoute)


@router.get(
    "/projects/{project_id}/labels",
    response_model=LabelPagePublic,
    response_model_exclude_unset=True,
)
def labels_since(
    project: ProjectMember,
    user: ModelClient,
    db: DbDep,
    since: Annotated[str | None, Query(max_length=200, description="A next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    """Changes of final labels after the cursor (all from the start without one), in order:
    the label that now stands, or a withdrawal."""
    rows, cursor = predictions.labels_since(db, project_id=project.id, cursor=since, limit=limit)
    return LabelPagePublic(
        labels=[LabelRowPublic(**row) for row in rows],
        next_cursor=cursor,
        has_more=len(rows) == limit,
    )
