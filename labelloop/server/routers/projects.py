"""Projects: list, show, create, settings, guidelines, and bulk item import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from labelloop.engine import ingest
from labelloop.engine import projects as project_engine
from labelloop.server import deps
from labelloop.server.errors import check_batch_size
from labelloop.server.permissions import member_scope
from labelloop.server.schemas import (
    GuidelineChanges,
    GuidelinesPublic,
    GuidelinesUpdate,
    ItemsCreate,
    ProjectCreate,
    ProjectInfo,
)

__all__ = ["router"]

router = APIRouter(tags=["projects"], route_class=deps.GuardedRoute)


@router.get("/projects", response_model=list[ProjectInfo], dependencies=[deps.MemberOnly])
def list_projects(user: deps.CurrentUser, db: deps.DbDep) -> list[Any]:
    """The caller's projects (every project for an admin) with their item counts."""
    return project_engine.list_projects(db, user_id=member_scope(user))


@router.post("/projects", response_model=ProjectInfo, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, user: deps.AdminUser, db: deps.DbDep) -> Any:
    """Create a project (admin)."""
    return project_engine.create_project(db, actor=deps.actor_for(user), **body.model_dump())


@router.get("/projects/{project_id}", response_model=ProjectInfo, dependencies=[deps.MemberOnly])
def get_project(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """One project with its counts."""
    return project_engine.get_project_info(db, project.id)


@router.patch(
    "/projects/{project_id}/settings", response_model=ProjectInfo, dependencies=[deps.AdminOnly]
)
def update_settings(
    project: deps.ProjectMember,
    user: deps.CurrentUser,
    db: deps.DbDep,
    changes: Annotated[dict[str, Any], Body(max_length=50)],
) -> Any:
    """Change some settings and/or ``strategy`` (admin); unknown names are refused."""
    return project_engine.update_settings(
        db, actor=deps.actor_for(user), project=project.id, changes=changes
    )


@router.get("/projects/{project_id}/guidelines", response_model=GuidelinesPublic)
def get_guidelines(project: deps.ProjectMember, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """The guidelines in force (Markdown); version 0 and empty text before the first."""
    found = project_engine.get_guidelines(db, project.id)
    if found is None:
        return GuidelinesPublic(
            project_id=project.id, version=0, text="", created_by="", created_at=None
        )
    return found


@router.get("/projects/{project_id}/guidelines/changes", response_model=GuidelineChanges)
def guideline_changes(
    project: deps.ProjectMember,
    user: deps.LabellerUser,
    db: deps.DbDep,
    old: Annotated[int | None, Query(ge=0, le=2**31, description="Default: new - 1.")] = None,
    new: Annotated[int | None, Query(ge=1, le=2**31, description="Default: current.")] = None,
) -> Any:
    """What changed between two guideline versions: every line, marked same, added or removed."""
    return project_engine.guideline_changes(db, project.id, old=old, new=new)


@router.put(
    "/projects/{project_id}/guidelines",
    response_model=GuidelinesPublic,
    dependencies=[deps.AdminOnly],
)
def set_guidelines(
    project: deps.ProjectMember, user: deps.CurrentUser, db: deps.DbDep, body: GuidelinesUpdate
) -> Any:
    """Store a new guideline version (admin); annotators see it from their next task."""
    version = project_engine.set_guidelines(
        db, actor=deps.actor_for(user), project=project.id, text=body.text
    )
    return project_engine.get_guidelines(db, project.id, version)


@router.post(
    "/projects/{project_id}/items",
    status_code=status.HTTP_201_CREATED,
    dependencies=[deps.AdminOnly],
)
def import_items(
    project: deps.ProjectMember,
    user: deps.CurrentUser,
    db: deps.DbDep,
    settings: deps.SettingsDep,
    body: ItemsCreate,
) -> Any:
    """Import records in bulk (admin): items, their tasks, and any labels they carry.

    ``on_existing`` (``error``, ``skip`` or ``update``) says what a record whose id is
    already in the project does, as ``labelloop import --on-existing``; ``bbox_format``
    (``xyxy``, the default, or ``xywh``) how a box project's records lay out their boxes,
    as ``labelloop import --bbox-format``.
    """
    check_batch_size(body.records, limit=settings.max_items_per_request, field="records")
    return ingest.import_items(
        db,
        actor=deps.actor_for(user),
        project=project.id,
        records=body.records,
        on_existing=body.on_existing,
        bbox_format=body.bbox_format,
    )
