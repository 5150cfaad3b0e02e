"""Media files of items, served only from inside the project's media root."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from labelloop.engine import media
from labelloop.server import deps
from labelloop.server.errors import ApiError
from labelloop.server.permissions import project_reachable
from labelloop.server.schemas import ItemId

__all__ = ["router"]

router = APIRouter(tags=["media"], route_class=deps.GuardedRoute, dependencies=[deps.LabellerOnly])

_FILE = {200: {"content": {"application/octet-stream": {}}, "description": "The file."}}


@router.get(
    "/projects/{project_id}/items/{external_id:path}/media",
    response_class=FileResponse,
    responses=_FILE,
)
def item_media(
    project: deps.ProjectMember,
    external_id: Annotated[str, Path(min_length=1, max_length=300)],
    db: deps.DbDep,
    settings: deps.SettingsDep,
) -> FileResponse:
    """The media file of an item (image, audio, video); 404 for anything outside the root."""
    found = media.media_file(
        db, project_id=project.id, external_id=external_id, allowed_root=settings.media_root
    )
    return FileResponse(found.path)


@router.get("/items/{item_id}/media", response_class=FileResponse, responses=_FILE)
def item_media_by_id(
    item_id: ItemId,
    user: deps.LabellerUser,
    db: deps.DbDep,
    settings: deps.SettingsDep,
) -> FileResponse:
    """The media file of an item by its id (the ``media_url`` of a leased task)."""
    found = media.media_file(db, item_id=item_id, allowed_root=settings.media_root)
    if not project_reachable(db, user, found.project_id):
        raise ApiError(404, f"no item {item_id}", field="item_id")
    return FileResponse(found.path)
