"""What the web UI asks beyond the core API: progress, the model's guess, item search, history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel

from labelloop.engine import browse, lookup, queue
from labelloop.server.deps import (
    REVIEWERS,
    AnnotationMember,
    DbDep,
    GuardedRoute,
    HumanUser,
    LabellerUser,
    ProjectMember,
    SettingsDep,
    require_roles,
)
from labelloop.server.errors import ApiError
from labelloop.server.routers.tasks import TaskPublic

__all__ = ["router"]

router = APIRouter(tags=["ui"], route_class=GuardedRoute)

AnnotationId = Annotated[int, Path(ge=1, le=2**62, description="The annotation's id.")]
ItemId = Annotated[int, Path(ge=1, le=2**62, description="The item's id.")]


class ProgressPublic(BaseModel):
    """The caller's labels today and in all, and how often reviewers accepted them."""

    done_today: int
    done_total: int
    reviewed: int
    accepted: int
    review_agreement: float | None


class GuessPublic(BaseModel):
    """The newest model's label for an item and its confidence."""

    item_id: int
    model_version: int
    label: Any
    confidence: float
    probabilities: dict[str, float]


class ItemSummaryPublic(BaseModel):
    id: int
    external_id: str
    snippet: str
    status: str
    final_label: Any
    is_eval: bool
    score: float | None


class ItemPagePublic(BaseModel):
    items: list[ItemSummaryPublic]
    total: int
    offset: int
    limit: int


class HistoryPredictionPublic(BaseModel):
    model_version: int
    label: Any
    probabilities: dict[str, float]
    score: float
    created_at: dt.datetime


class HistoryAnnotationPublic(BaseModel):
    id: int
    actor: str
    source: str
    label: Any
    status: str
    time_spent_ms: int | None
    guideline_version: int | None
    created_at: dt.datetime


class HistoryReviewPublic(BaseModel):
    id: int
    annotation_id: int | None
    reviewer: str
    verdict: str
    corrected_label: Any
    note: str | None
    created_at: dt.datetime


class HistoryEventPublic(BaseModel):
    seq: int
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    created_at: dt.datetime


class ItemHistoryPublic(BaseModel):
    """An item and everything that happened to it."""

    id: int
    project_id: int
    external_id: str
    payload: dict[str, Any]
    media_url: str | None
    meta: dict[str, Any]
    status: str
    final_label: Any
    label_source: str | None
    is_eval: bool
    created_at: dt.datetime
    predictions: list[HistoryPredictionPublic]
    annotations: list[HistoryAnnotationPublic]
    reviews: list[HistoryReviewPublic]
    events: list[HistoryEventPublic]


@router.get("/projects/{project_id}/progress/me", response_model=ProgressPublic)
def my_progress(project: ProjectMember, user: LabellerUser, db: DbDep) -> Any:
    """The caller's progress: labels done today (UTC) and in all, agreement with reviewers."""
    return browse.annotator_progress(db, project_id=project.id, user_id=user.id)


@router.get(
    "/projects/{project_id}/items/{item_id}/guess",
    response_model=GuessPublic | None,
)
def model_guess(project: ProjectMember, item_id: ItemId, user: HumanUser, db: DbDep) -> Any:
    """The model's guess for an item (null before any model); annotators see it only when
    the project's ``show_model_guess`` setting allows it."""
    if user.role == "annotator":
        settings = lookup.project_settings(db, project.id)
        if not settings.get("show_model_guess", True):
            raise ApiError(403, "this project does not show the model's guess to annotators")
    return browse.model_guess(db, project_id=project.id, item_id=item_id)


@router.get(
    "/projects/{project_id}/items",
    response_model=ItemPagePublic,
    dependencies=[Depends(require_roles(*REVIEWERS))],
)
def search_items(
    project: ProjectMember,
    db: DbDep,
    q: Annotated[str | None, Query(max_length=500, description="Text or external id.")] = None,
    meta: Annotated[str | None, Query(max_length=500, description="'key=value' or text.")] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    label: Annotated[str | None, Query(max_length=200)] = None,
    annotator: Annotated[str | None, Query(max_length=200)] = None,
    min_score: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
    max_score: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Any:
    """Search the pool (admins and reviewers): text, metadata, status, label, annotator, score."""
    return browse.search_items(
        db,
        project.id,
        text=q,
        meta=meta,
        status=status or None,
        label=label,
        annotator=annotator,
        min_score=min_score,
        max_score=max_score,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/projects/{project_id}/items/{item_id}/history",
    response_model=ItemHistoryPublic,
    dependencies=[Depends(require_roles(*REVIEWERS))],
)
def item_history(project: ProjectMember, item_id: ItemId, db: DbDep) -> Any:
    """An item with its predictions, annotations, reviews and audit events (admins, reviewers)."""
    return browse.item_history(db, project_id=project.id, item_id=item_id)


@router.post(
    "/annotations/{annotation_id}/relabel",
    response_model=TaskPublic,
    dependencies=[AnnotationMember],
)
def label_again(
    annotation_id: AnnotationId, user: LabellerUser, db: DbDep, settings: SettingsDep
) -> Any:
    """Lease the task of the caller's just-undone annotation back to them, to label it again."""
    return queue.lease_undone_task(
        db, annotation_id=annotation_id, user=user, lease_seconds=settings.lease_seconds
    )


@router.post(
    "/projects/{project_id}/tasks/ahead",
    response_model=TaskPublic,
    responses={204: {"description": "Nothing more is open, or the caller holds no task."}},
)
def lease_ahead(
    project: ProjectMember, user: LabellerUser, db: DbDep, settings: SettingsDep
) -> Any:
    """Lease the task after the one the caller holds (no body), so it can be shown at once;
    ``tasks/next`` answers it once the current task is submitted or skipped. 204 when none."""
    task = queue.lease_ahead(
        db, project_id=project.id, user=user, lease_seconds=settings.lease_seconds
    )
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return task
