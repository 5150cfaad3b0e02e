"""Client models: push predictions in bulk (model accounts and admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelloop.engine import predictions
from labelloop.server import deps
from labelloop.server.errors import check_batch_size
from labelloop.server.schemas import PredictionsCreate, PushReport

__all__ = ["router"]

router = APIRouter(tags=["client models"], route_class=deps.GuardedRoute)


@router.post("/projects/{project_id}/predictions", response_model=PushReport)
def push_predictions(
    project: deps.ProjectMember,
    user: deps.ModelClient,
    db: deps.DbDep,
    settings: deps.SettingsDep,
    body: PredictionsCreate,
) -> Any:
    """Push a client model's predictions; the queue is re-prioritised by their scores."""
    check_batch_size(body.predictions, limit=settings.max_items_per_request, field="predictions")
    return predictions.push_predictions(
        db,
        project_id=project.id,
        actor=deps.actor_for(user),
        model_version=body.model_version,
        # Built by hand: a dump would copy every box of a push of 100,000 boxes again.
        predictions=[_entry(p) for p in body.predictions],
    )


def _entry(prediction: Any) -> dict[str, Any]:
    """One pushed entry as the engine takes it: boxes as sent, an entity item's spans as
    plain objects."""
    entry = {key: value for key, value in vars(prediction).items() if value is not None}
    if "spans" in entry:
        entry["spans"] = [span.model_dump(exclude_none=True) for span in entry["spans"]]
    return entry
