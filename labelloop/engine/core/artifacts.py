"""Model artifacts: where a project's live, and loading a model version back from them.

Rules
-----
1. A project's artifacts live in its own directory, ``<artifact dir>/project-<id>``
   (`project_dir`), and are loaded only from there, with their SHA-256 checked against
   the model version's row (`load_project_model`): a file moved in from elsewhere or
   modified after the round is refused.
2. Only built-in model versions have artifacts; a client model's version has none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import DatasetVersionRow, ModelVersionRow

if TYPE_CHECKING:  # scikit-learn and skops load on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = ["ModelVersionInfo", "load_project_model", "project_dir"]


@dataclass(frozen=True)
class ModelVersionInfo:
    """A stored model version (without its artifact)."""

    version: int
    kind: str
    name: str
    dataset_version: int | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    artifact_path: str | None
    artifact_sha256: str | None
    created_at: dt.datetime


def project_dir(db: Database, project_id: int) -> Path:
    """The project's own artifact directory: ``<artifact dir>/project-<id>``."""
    return Path(db.artifact_dir) / f"project-{project_id}"


def load_project_model(
    db: Database, project: int | str, version: int | None = None
) -> tuple[ModelVersionInfo, ProjectModel]:
    """A built-in model version and its model, loaded from the checked artifact (rule 4).

    Parameters
    ----------
    version : int, optional
        The model version; default the newest built-in one.

    Raises
    ------
    NotFoundError
        No such model version (or none trained yet).
    ValidationError
        The artifact is missing, outside the project's directory, or modified.
    """
    from labelloop.models.artifacts import load_model

    with db.read() as session:
        proj = resolve_project(session, project)
        query_ = select(ModelVersionRow).where(
            ModelVersionRow.project_id == proj.id, ModelVersionRow.kind == "builtin"
        )
        if version is not None:
            query_ = query_.where(ModelVersionRow.version == version)
        row = session.execute(query_.order_by(ModelVersionRow.version.desc())).scalars().first()
        if row is None:
            wanted = f"model version {version}" if version is not None else "trained model"
            raise NotFoundError(f"project {proj.name!r} has no {wanted}: run `labelloop train`")
        dataset_version = None
        if row.dataset_version_id is not None:
            dataset_version = session.get(DatasetVersionRow, row.dataset_version_id).version
        info = ModelVersionInfo(
            version=row.version,
            kind=row.kind,
            name=row.name,
            dataset_version=dataset_version,
            params=dict(row.params or {}),
            metrics=dict(row.metrics or {}),
            artifact_path=row.artifact_path,
            artifact_sha256=row.artifact_sha256,
            created_at=row.created_at,
        )
        project_id = proj.id
    if not info.artifact_path or not info.artifact_sha256:
        raise ValidationError(
            f"model version {info.version} has no artifact to load", field="artifact"
        )
    model = load_model(
        Path(db.artifact_dir) / info.artifact_path,
        project_dir=project_dir(db, project_id),
        sha256=info.artifact_sha256,
        extra_trusted=info.params.get("artifact_types", ()),
    )
    return info, model
