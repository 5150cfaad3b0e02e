"""Media files of items: where an item's file is, never outside its project's media root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow

__all__ = ["MediaFile", "media_file"]


@dataclass(frozen=True)
class MediaFile:
    """An item's media file, resolved inside its project's media root."""

    project_id: int
    external_id: str
    path: Path


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def media_file(
    db: Database,
    *,
    project_id: int | None = None,
    external_id: str | None = None,
    item_id: int | None = None,
    allowed_root: str | Path | None = None,
) -> MediaFile:
    """The file of an item's media, resolved inside the project's media root.

    Parameters
    ----------
    db : Database
    project_id : int, optional
        The project the item must belong to (required with ``external_id``).
    external_id, item_id : optional
        The item, by its external id or its id (exactly one).
    allowed_root : path, optional
        A directory every media root must lie in (the service's ``--media-root``); a
        project's relative ``media_root`` is taken relative to it, and a project
        without one uses it.

    Returns
    -------
    MediaFile
        The item's project, external id, and the resolved path of an existing file.

    Raises
    ------
    NotFoundError
        No such item in the project, no media for it, or a reference that leads
        outside the media root (symbolic links included): nothing is said about
        files outside the root.
    """
    if (external_id is None) == (item_id is None):
        raise ValidationError("give exactly one of external_id and item_id", field="item")
    if external_id is not None and project_id is None:
        raise ValidationError("an external id needs its project_id", field="project_id")
    wanted = external_id if external_id is not None else item_id
    with db.read() as session:
        query = select(ItemRow.project_id, ItemRow.external_id, ItemRow.media_ref)
        if external_id is not None:
            query = query.where(ItemRow.external_id == external_id)
        else:
            query = query.where(ItemRow.id == item_id)
        if project_id is not None:
            query = query.where(ItemRow.project_id == project_id)
        found = session.execute(query).first()
        if found is None:
            raise NotFoundError(f"no item {wanted!r}")
        project_id = found.project_id
        root_setting = effective_settings(resolve_project(session, project_id)).get("media_root")
    ref = found.media_ref
    if not ref or ref.startswith(("http://", "https://")):
        raise NotFoundError(f"item {found.external_id!r} has no media file served here")
    base = Path(allowed_root).resolve() if allowed_root is not None else None
    if root_setting:
        root = Path(root_setting)
        if not root.is_absolute():
            if base is None:
                raise NotFoundError(f"project {project_id} has no media root to serve from")
            root = base / root
        root = root.resolve()
    elif base is not None:
        root = base
    else:
        raise NotFoundError(f"project {project_id} has no media root to serve from")
    if base is not None and not _inside(root, base):
        raise NotFoundError(f"project {project_id}'s media root is outside the served root")
    path = (root / ref).resolve()
    if not _inside(path, root) or not path.is_file():
        raise NotFoundError(f"no media file for item {found.external_id!r}")
    return MediaFile(project_id=project_id, external_id=found.external_id, path=path)
