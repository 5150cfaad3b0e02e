"""A round's dataset and model versions, the model's artifact, and loading it back.

Rules
-----
1. Versions are numbered per project from 1, the next number read under the project's
   row lock, so concurrent rounds never share one.
2. A dataset version records each labelled item's final label and the active
   annotations behind it: it is as large as the labelled set, never the pool.
3. The artifact is saved under a pending name before the transaction, renamed to
   ``model-<version>.skops`` inside it, and removed again if the transaction fails; the
   dataset version and the model version commit together. Their ``model.trained``
   audit event commits with the round (`model_trained`): the audit log is append-only,
   so nothing may be audited that a failed round would take back.
4. A round that fails after its versions committed takes them back (`discard_versions`):
   both rows in one transaction, then the artifact, so no version, artifact or event of
   a failed round remains.
5. Artifacts live in the project's own directory (`project_dir`) and are loaded only
   from there, with their SHA-256 checked (`load_project_model`); both are the floor's
   (`labelloop.engine.core.artifacts`), since stream mode loads models too.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.artifacts import ModelVersionInfo, load_project_model, project_dir
from labelloop.engine.rounds.inputs import LabelledSet, ProjectSnapshot
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    DatasetVersionEntryRow,
    DatasetVersionRow,
    ModelVersionRow,
    ProjectRow,
)
from labelloop.store.writes import insert_batched

if TYPE_CHECKING:  # scikit-learn and skops load on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = [
    "ModelVersionInfo",
    "TrainedVersions",
    "add_dataset_version",
    "discard_versions",
    "load_project_model",
    "model_trained",
    "next_number",
    "project_dir",
    "write_model_version",
]


@dataclass(frozen=True)
class TrainedVersions:
    """The rows a fitted round committed: ids, per-project numbers, and what is audited.

    ``artifact`` is the saved model's path; ``trained`` the ``model.trained`` event's body.
    """

    dataset_id: int
    dataset_version: int
    model_id: int
    model_version: int
    artifact: Path
    trained: dict[str, Any]


def next_number(session: Session, column_: Any, project_column: Any, project_id: int) -> int:
    """The next per-project number of ``column_``; hold the project's row lock (rule 1)."""
    current = session.execute(select(func.max(column_)).where(project_column == project_id))
    return int(current.scalar_one() or 0) + 1


def add_dataset_version(
    session: Session,
    project: ProjectSnapshot,
    *,
    actor: str,
    train_set: LabelledSet,
    annotations: dict[int, list[int]],
) -> DatasetVersionRow:
    """Add the dataset version of ``train_set`` and its entries (rule 2), flushed."""
    dataset = DatasetVersionRow(
        project_id=project.id,
        version=next_number(
            session, DatasetVersionRow.version, DatasetVersionRow.project_id, project.id
        ),
        n_items=len(train_set.item_ids),
        created_by=actor,
    )
    session.add(dataset)
    session.flush()
    insert_batched(
        session,
        DatasetVersionEntryRow.__table__,
        [
            {
                "dataset_version_id": dataset.id,
                "item_id": item_id,
                "label": label,
                "annotation_ids": annotations.get(item_id, []),
            }
            for item_id, label in zip(train_set.item_ids, train_set.labels, strict=True)
        ],
    )
    return dataset


def write_model_version(
    db: Database,
    project: ProjectSnapshot,
    *,
    actor: str,
    model: ProjectModel,
    seed: int,
    train_set: LabelledSet,
    annotations: dict[int, list[int]],
    metrics: dict[str, Any],
) -> TrainedVersions:
    """Save the artifact; commit the dataset version and the model version (rule 3).

    ``metrics`` keeps only its ``eval`` and ``cv`` entries on the model version. The
    ``model.trained`` event is the round's to append (`model_trained`).
    """
    from labelloop.models.artifacts import save_model

    pending = project_dir(db, project.id) / f".pending-{os.getpid()}-{seed}.skops"
    saved = save_model(model, pending)
    final_path: Path | None = None
    try:
        with db.transaction() as session:
            session.execute(
                select(ProjectRow.id).where(ProjectRow.id == project.id).with_for_update()
            )
            dataset = add_dataset_version(
                session, project, actor=actor, train_set=train_set, annotations=annotations
            )
            version = next_number(
                session, ModelVersionRow.version, ModelVersionRow.project_id, project.id
            )
            final_path = saved.path.with_name(f"model-{version}.skops")
            os.replace(saved.path, final_path)
            estimator = model.params["classifier"]["estimator"].split(":")[-1]
            row = ModelVersionRow(
                project_id=project.id,
                version=version,
                kind="builtin",
                name=f"{project.task_type}-{estimator}",
                dataset_version_id=dataset.id,
                params={**model.params, "artifact_types": list(saved.extra_types)},
                metrics={k: metrics[k] for k in ("eval", "cv") if k in metrics},
                artifact_path=final_path.relative_to(Path(db.artifact_dir)).as_posix(),
                artifact_sha256=saved.sha256,
            )
            session.add(row)
            session.flush()
            trained = {
                "model_version": version,
                "dataset_version": dataset.version,
                "n_labels": len(train_set.item_ids),
                "metrics": row.metrics,
                "artifact_sha256": row.artifact_sha256,
            }
            return TrainedVersions(
                dataset.id, dataset.version, row.id, row.version, final_path, trained
            )
    except BaseException:
        if final_path is not None:
            final_path.unlink(missing_ok=True)
        raise
    finally:
        saved.path.unlink(missing_ok=True)
        _remove_if_empty(project_dir(db, project.id))  # a failed first version leaves none


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: other versions' artifacts stay
        directory.rmdir()


def model_trained(
    session: Session, project_id: int, *, actor: str, versions: TrainedVersions
) -> None:
    """Append the ``model.trained`` audit event, in the round's transaction (rule 3)."""
    append_event(
        session,
        project_id=project_id,
        actor=actor,
        action="model.trained",
        target=f"model_version:{versions.model_version}",
        after=versions.trained,
    )


def discard_versions(db: Database, project_id: int, versions: TrainedVersions) -> None:
    """Take back the versions of a round that failed (rule 4).

    The model version's predictions go first (`scoring.delete_predictions`, paced): here
    only the two rows, the dataset version's entries (as many as the labelled set) and
    the artifact are removed, with the project's directory if the round had created it.
    """
    with db.transaction() as session:
        session.execute(delete(ModelVersionRow).where(ModelVersionRow.id == versions.model_id))
        session.execute(
            delete(DatasetVersionEntryRow).where(
                DatasetVersionEntryRow.dataset_version_id == versions.dataset_id
            )
        )
        session.execute(
            delete(DatasetVersionRow).where(DatasetVersionRow.id == versions.dataset_id)
        )
    versions.artifact.unlink(missing_ok=True)
    _remove_if_empty(project_dir(db, project_id))
