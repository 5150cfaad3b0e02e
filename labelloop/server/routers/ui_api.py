"""What the web UI asks beyond the core API: progress, the model's guess, item search, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from labelloop.engine import browse, lookup, queue
from labelloop.engine.core.settings import hides_model_guess
from labelloop.server import deps
from labelloop.server.errors import ApiError
from labelloop.server.routers import or_no_content
from labelloop.server.schemas import (
    MAX_ID,
    AnnotationId,
    AnnotatorProgress,
    ItemGuess,
    ItemHistory,
    ItemId,
    ItemPage,
    ItemTokens,
    LeaseHolder,
    RecentLabel,
    SavedFilter,
    SavedFilterCreate,
    TaskInfo,
)

__all__ = ["router"]

router = APIRouter(tags=["ui"], route_class=deps.GuardedRoute)


@router.get("/projects/{project_id}/progress/me", response_model=AnnotatorProgress)
def my_progress(project: deps.ProjectMember, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """The caller's progress: labels done today (UTC) and in all, agreement with reviewers,
    time on task today and labels per hour (from their own labels' time spent), and the
    project's label queue (tasks done of all)."""
    return browse.annotator_progress(db, project_id=project.id, user_id=user.id)


@router.get("/projects/{project_id}/annotations/mine", response_model=list[RecentLabel])
def my_recent_labels(
    project: deps.ProjectMember,
    user: deps.LabellerUser,
    db: deps.DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Any:
    """The caller's standing labels, newest first, each saying whether it may still be
    changed (not once a reviewer has judged it)."""
    return browse.recent_labels(db, project_id=project.id, user_id=user.id, limit=limit)


@router.get(
    "/projects/{project_id}/items/{item_id}/guess",
    response_model=ItemGuess | None,
)
def model_guess(
    project: deps.ProjectMember, item_id: ItemId, user: deps.LabellerUser, db: deps.DbDep
) -> Any:
    """The model's guess for an item (null before any model); annotators see it only when
    the project's ``show_model_guess`` setting allows it."""
    if hides_model_guess(lookup.project_settings(db, project.id), user.role):
        raise ApiError(403, "this project does not show the model's guess to annotators")
    return browse.model_guess(db, project_id=project.id, item_id=item_id)


@router.get("/projects/{project_id}/items/{item_id}/tokens", response_model=ItemTokens)
def item_tokens(
    project: deps.ProjectMember, item_id: ItemId, user: deps.LabellerUser, db: deps.DbDep
) -> Any:
    """An item's text and its tokens as ``[start, end)`` character offsets: what the span
    editor of an entity project snaps a selection to."""
    return browse.item_tokens(db, project_id=project.id, item_id=item_id)


@router.get(
    "/projects/{project_id}/items",
    response_model=ItemPage,
    dependencies=[deps.ReviewerOnly],
)
def search_items(
    project: deps.ProjectMember,
    db: deps.DbDep,
    q: Annotated[str | None, Query(max_length=500, description="Text or external id.")] = None,
    meta: Annotated[str | None, Query(max_length=500, description="'key=value' or text.")] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    label: Annotated[str | None, Query(max_length=200)] = None,
    annotator: Annotated[str | None, Query(max_length=200)] = None,
    min_score: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
    max_score: Annotated[float | None, Query(ge=-1e12, le=1e12)] = None,
    skipped: Annotated[bool, Query(description="Only items some annotator skipped.")] = False,
    sort: Annotated[
        str | None,
        Query(
            max_length=20,
            description="id, external_id, status, label, score or skips; '-' in front "
            "for descending.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Any:
    """Search the pool (admins and reviewers): text, metadata, status, label, annotator,
    score, skipped items with their reasons; sorted by a column."""
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
        skipped=skipped,
        sort=sort or None,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/projects/{project_id}/filters",
    response_model=list[SavedFilter],
    dependencies=[deps.ReviewerOnly],
)
def saved_filters(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """The item browser's saved filters of the project, by name (admins and reviewers)."""
    return browse.list_saved_filters(db, project.id)


@router.post("/projects/{project_id}/filters", response_model=SavedFilter, status_code=201)
def save_filter(
    project: deps.ProjectMember, body: SavedFilterCreate, user: deps.AdminUser, db: deps.DbDep
) -> Any:
    """Save the browser's query under a name (admins); an existing name is replaced."""
    return browse.save_filter(
        db, actor=deps.actor_for(user), project=project.id, name=body.name, filters=body.filters
    )


@router.delete("/projects/{project_id}/filters/{filter_id}", status_code=204)
def delete_filter(
    project: deps.ProjectMember,
    filter_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    user: deps.AdminUser,
    db: deps.DbDep,
) -> Response:
    """Delete a saved filter (admins)."""
    browse.delete_saved_filter(
        db, actor=deps.actor_for(user), project=project.id, filter_id=filter_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/projects/{project_id}/items/{item_id}/history",
    response_model=ItemHistory,
    dependencies=[deps.ReviewerOnly],
)
def item_history(project: deps.ProjectMember, item_id: ItemId, db: deps.DbDep) -> Any:
    """An item with its predictions, annotations, reviews and audit events (admins, reviewers)."""
    return browse.item_history(db, project_id=project.id, item_id=item_id)


@router.post(
    "/annotations/{annotation_id}/relabel",
    response_model=TaskInfo,
    dependencies=[deps.AnnotationMember],
)
def label_again(
    annotation_id: AnnotationId,
    user: deps.LabellerUser,
    db: deps.DbDep,
    settings: deps.SettingsDep,
    holder: LeaseHolder = None,
) -> Any:
    """Lease the task of the caller's just-undone annotation back to them, to label it again
    (as ``holder``, as for ``tasks/next``)."""
    return queue.lease_undone_task(
        db,
        annotation_id=annotation_id,
        user=user,
        lease_seconds=settings.lease_seconds,
        holder=holder,
    )


@router.post(
    "/projects/{project_id}/tasks/ahead",
    response_model=TaskInfo,
    responses={204: {"description": "Nothing more is open, or the caller holds no task."}},
)
def lease_ahead(
    project: deps.ProjectMember,
    user: deps.LabellerUser,
    db: deps.DbDep,
    settings: deps.SettingsDep,
    holder: LeaseHolder = None,
) -> Any:
    """Lease the task after the one the caller holds (no body), so it can be shown at once;
    ``tasks/next`` answers it once the current task is submitted or skipped. 204 when none.
    With ``holder``, as for ``tasks/next``: the holder's tasks only."""
    return or_no_content(
        queue.lease_ahead(
            db,
            project_id=project.id,
            user=user,
            lease_seconds=settings.lease_seconds,
            holder=holder,
        )
    )
