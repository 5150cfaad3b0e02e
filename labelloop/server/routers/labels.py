"""Final labels, page by page, for a client model's retraining (model accounts and admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from labelloop.engine import predictions
from labelloop.server.deps import DbDep, GuardedRoute, ModelReader, ProjectMember

__all__ = ["router"]

router = APIRouter(tags=["client models"], route_class=GuardedRoute)


class LabelRowPublic(BaseModel):
    """An item's final label: ``label`` (single-label) or ``labels`` (multi-label)."""

    item_id: str
    annotation_id: int
    label: str | None = None
    labels: list[str] | None = None


class LabelPagePublic(BaseModel):
    """One page; pass ``next_cursor`` as ``since`` for the next (also to poll later)."""

    labels: list[LabelRowPublic]
    next_cursor: str
    has_more: bool


@router.get(
    "/projects/{project_id}/labels",
    response_model=LabelPagePublic,
    response_model_exclude_unset=True,
)
def labels_since(
    project: ProjectMember,
    user: ModelReader,
    db: DbDep,
    since: Annotated[str | None, Query(max_length=200, description="A next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    """Final labels after the cursor (all from the start without one), in annotation order."""
    rows, cursor = predictions.labels_since(db, project_id=project.id, cursor=since, limit=limit)
    return LabelPagePublic(
        labels=[LabelRowPublic(**row) for row in rows],
        next_cursor=cursor,
        has_more=len(rows) == limit,
    )
