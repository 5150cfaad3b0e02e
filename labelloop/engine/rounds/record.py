"""The round row: what one turn of the loop did, committed last, announced, and read back.

Rules
-----
1. A round commits last, after its predictions and priorities, in one transaction with
   its batch (put first in the queue again: another writer may have raised tasks since
   the refresh began), its ``model.trained`` and ``round.completed`` audit events and
   the webhooks' ``round.completed`` and ``batch.ready`` events.
2. Rounds are numbered per project from 1 under the project's row lock.
3. A cold-start round (no model fitted) still records the dataset version it read.
4. Webhooks hear of every round, whoever trained it (a retrain job, the CLI, a library
   user); ``batch.ready`` only when the batch is not empty.
5. A round's ``created_at`` is when it read its labels: labels given after it are new to
   the next round.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.outbox import emit_event
from labelloop.engine.core.project import resolve_project
from labelloop.engine.rounds.inputs import LabelledSet, ProjectSnapshot, external_ids
from labelloop.engine.rounds.priorities import put_batch_first
from labelloop.engine.rounds.scoring import ScoredPool
from labelloop.engine.rounds.versions import (
    TrainedVersions,
    add_dataset_version,
    model_trained,
    next_number,
)
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import DatasetVersionRow, ModelVersionRow, ProjectRow, RoundRow

__all__ = ["RoundInfo", "list_rounds", "read_rounds", "record_round", "write_round"]


@dataclass(frozen=True)
class RoundInfo:
    """One turn of the loop.

    Attributes
    ----------
    number : int
        The round's number in its project, from 1.
    strategy : str
        The strategy that picked the batch (for ``auto``: the arm used, or ``cold-start``).
    dataset_version : int
        The dataset version trained on.
    model_version : int or None
        The model version produced; None for a cold-start round (fewer than 2 classes).
    n_labels : int
        Labelled items in the dataset version.
    batch : tuple of str
        External ids of the picked items, in pick order.
    metrics : dict
        ``eval`` (accuracy, macro_f1, n on the evaluation set), ``cv`` (the same by
        cross-validation on the training set), ``pool_size``, ``n_eval_labelled``,
        ``max_uncertainty`` (the pool's highest), ``stopping`` (each stopping
        criterion's ``stop``, ``value`` and ``reason``, by name), ``random_curve``
        (random sampling's learning curve traced on the labelled evaluation items:
        ``n_labels``, ``macro_f1``, ``accuracy``; see `worth`), ``strategy_state``
        (what the strategy carries to the next round).
    created_at : datetime
        When the round read its labels: labels given after it are new to the next round.
    """

    number: int
    strategy: str
    dataset_version: int | None
    model_version: int | None
    n_labels: int
    batch: tuple[str, ...]
    metrics: dict[str, Any]
    created_at: dt.datetime


def _round_info(
    row: RoundRow,
    external: dict[int, str],
    dataset_versions: dict[int, int],
    model_versions: dict[int, int],
) -> RoundInfo:
    return RoundInfo(
        number=row.number,
        strategy=row.strategy,
        dataset_version=dataset_versions.get(row.dataset_version_id),
        model_version=model_versions.get(row.model_version_id),
        n_labels=row.n_labels,
        batch=tuple(external.get(int(i), str(i)) for i in row.batch or ()),
        metrics=dict(row.metrics or {}),
        created_at=row.created_at,
    )


def write_round(
    db: Database,
    project: ProjectSnapshot,
    *,
    actor: str,
    versions: TrainedVersions | None,
    train_set: LabelledSet,
    annotations: dict[int, list[int]],
    scored: ScoredPool,
    priorities: np.ndarray,
    metrics: dict[str, Any],
    n_reprioritised: int,
    read_at: dt.datetime,
) -> RoundInfo:
    """Commit the round, its batch (first in the queue again) and its events (rules 1-5)."""
    with db.transaction() as session:
        session.execute(select(ProjectRow.id).where(ProjectRow.id == project.id).with_for_update())
        if versions is None:
            dataset = add_dataset_version(
                session, project, actor=actor, train_set=train_set, annotations=annotations
            )
            dataset_id, dataset_version = dataset.id, dataset.version
        else:
            dataset_id, dataset_version = versions.dataset_id, versions.dataset_version
            model_trained(session, project.id, actor=actor, versions=versions)
        put_batch_first(session, db.dialect, project.id, scored, priorities)
        return record_round(
            session,
            project.id,
            actor=actor,
            dataset=(dataset_id, dataset_version),
            model=(versions.model_id, versions.model_version) if versions else None,
            strategy=scored.strategy,
            batch_ids=list(scored.batch_ids),
            metrics=metrics,
            n_labels=len(train_set.item_ids),
            n_reprioritised=n_reprioritised,
            read_at=read_at,
        )


def record_round(
    session: Session,
    project_id: int,
    *,
    actor: str,
    dataset: tuple[int, int],
    model: tuple[int, int] | None,
    strategy: str,
    batch_ids: list[int],
    metrics: dict[str, Any],
    n_labels: int,
    n_reprioritised: int,
    read_at: dt.datetime,
) -> RoundInfo:
    """The round's row, its ``round.completed`` audit event and its webhooks, in the
    caller's transaction (which holds the project's row lock); every kind of round
    records itself here.

    Parameters
    ----------
    dataset : (id, version)
        The dataset version the round read.
    model : (id, version) or None
        The model version it trained, if any.
    batch_ids : list of int
        Item ids of the batch, in order.
    """
    number = next_number(session, RoundRow.number, RoundRow.project_id, project_id)
    round_row = RoundRow(
        project_id=project_id,
        number=number,
        dataset_version_id=dataset[0],
        model_version_id=model[0] if model else None,
        strategy=strategy,
        batch=batch_ids,
        metrics=json.loads(json.dumps(metrics, default=float)),
        n_labels=n_labels,
        created_at=read_at,
    )
    session.add(round_row)
    session.flush()
    append_event(
        session,
        project_id=project_id,
        actor=actor,
        action="round.completed",
        target=f"round:{number}",
        after={
            "round": number,
            "dataset_version": dataset[1],
            "model_version": model[1] if model else None,
            "n_labels": n_labels,
            "strategy": strategy,
            "batch_size": len(batch_ids),
            "n_reprioritised": n_reprioritised,
        },
    )
    external = external_ids(session, batch_ids)
    models = {model[0]: model[1]} if model else {}
    info = _round_info(round_row, external, {dataset[0]: dataset[1]}, models)
    _announce(session, project_id, info)
    return info


def _announce(session: Session, project_id: int, info: RoundInfo) -> None:
    """The webhooks' ``round.completed`` and ``batch.ready`` (rule 4)."""
    emit_event(
        session,
        project_id=project_id,
        event="round.completed",
        payload={
            "number": info.number,
            "strategy": info.strategy,
            "dataset_version": info.dataset_version,
            "model_version": info.model_version,
            "n_labels": info.n_labels,
            "metrics": {k: v for k, v in info.metrics.items() if k != "strategy_state"},
        },
    )
    if info.batch:
        emit_event(
            session,
            project_id=project_id,
            event="batch.ready",
            payload={
                "round": info.number,
                "model_version": info.model_version,
                "batch": list(info.batch),
            },
        )


def list_rounds(db: Database, project: int | str) -> list[RoundInfo]:
    """Every round of a project, oldest first, with its metrics and batch."""
    with db.read() as session:
        proj = resolve_project(session, project)
        return read_rounds(session, proj.id)


def read_rounds(session: Session, project_id: int) -> list[RoundInfo]:
    """`list_rounds` in the caller's session, for a project already resolved."""
    rows = list(
        session.execute(
            select(RoundRow).where(RoundRow.project_id == project_id).order_by(RoundRow.number)
        ).scalars()
    )
    dataset_versions = dict(
        session.execute(
            select(DatasetVersionRow.id, DatasetVersionRow.version).where(
                DatasetVersionRow.project_id == project_id
            )
        ).all()
    )
    model_versions = dict(
        session.execute(
            select(ModelVersionRow.id, ModelVersionRow.version).where(
                ModelVersionRow.project_id == project_id
            )
        ).all()
    )
    external = external_ids(session, [int(i) for r in rows for i in (r.batch or ())])
    return [_round_info(row, external, dataset_versions, model_versions) for row in rows]
