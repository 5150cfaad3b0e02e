"""Rounds: train on the current labels, score the pool, re-prioritise the queue.

One call to `train` makes one round::

    read labels ──► fit ──► model version ──► score eval set, pool ──► priorities ──► round
     (snapshot)      │      dataset version    in chunks: predictions   batch first    batch,
                     ▼      model.trained      select_batch                            metrics
           metrics on the eval set and
           by cross-validation

No write transaction grows with the pool, so annotators leasing and submitting tasks
never wait long on SQLite's write lock while a round runs at a million items:

1. labels are read and the model fitted outside any write transaction;
2. the dataset version, the model version and the ``model.trained`` event commit together
   (the dataset version is as large as the labelled set, never the pool);
3. the evaluation set and the pool are read in keyset pages (``id > last``) in short read
   transactions, and each page's predictions are written as it is scored; memory holds
   two numbers per pool item, not the pool;
4. task priorities are written, the picked batch first;
5. the round, its batch (put first again), the ``round.completed`` audit event and the
   webhooks' ``round.completed`` and ``batch.ready`` commit last;
   then pool predictions of older model versions are deleted.

Predictions, priorities and deletions go in chunks sized to hold the write lock about
`WRITE_TARGET_S` each (at most `WRITE_BATCH` rows), with a pause as long as the hold after
each: SQLite's busy handler polls for the lock rather than queueing for it, so without
the pause back-to-back chunks would starve a waiting annotator.

A round that fails between 2 and 5 leaves a model version without a round. Its
predictions and priorities are partial but harmless: every task keeps a valid priority,
readers take the newest predictions there are, and the next train writes all of them
again, puts its own batch first and deletes the stale predictions.

Priorities: the picked batch gets ``2 + (k - rank) / k`` (in pick order, above
everything else), the rest of the pool its informativeness rank scaled into [0, 1);
evaluation-set tasks keep theirs, since the queue mixes them in at their own share.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import (
    Float,
    Integer,
    String,
    column,
    delete,
    func,
    select,
    update,
    values,
)
from sqlalchemy.orm import Session

from labelloop.engine.core.outbox import emit_event
from labelloop.engine.core.priority import BATCH_BONUS, batch_priorities, rank_priorities
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    DatasetVersionEntryRow,
    DatasetVersionRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    RoundRow,
    TaskRow,
    utcnow,
)

if TYPE_CHECKING:  # scikit-learn and skops load on first use, not with the engine
    from labelloop.models.builtin import ItemInput, ProjectModel

__all__ = [
    "LABELLED_STATUSES",
    "ModelVersionInfo",
    "Progress",
    "QueryRow",
    "RoundInfo",
    "StatusInfo",
    "list_rounds",
    "load_project_model",
    "project_dir",
    "project_status",
    "query",
    "train",
]

LABELLED_STATUSES = ("annotated", "accepted")
CHUNK_SIZE = 20_000  # items read, featurised and scored at a time
FEATURIZER_SAMPLE = 5_000  # pool items the featurizer also learns from (unsupervised)
WRITE_BATCH = 5_000  # most rows per chunked write transaction
WRITE_TARGET_S = 0.02  # how long a chunked write transaction aims to hold the write lock
IN_BATCH = 1_000  # ids per IN (...) list, well under SQLite's bound-parameter limit
STOP_KAPPA = 0.99
STOP_UNCERTAINTY = 0.05
# Stabilising predictions is trusted only over several rounds that each added labels:
# one stable pair says little while a young model barely moves between small batches.
STOP_WINDOW = 3

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stages ``fit``, ``score`` and ``write``."""


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
        cross-validation on the training set), ``pool_size``, ``max_uncertainty``,
        ``stop_kappa`` (agreement with the previous model on the evaluation set),
        ``strategy_state`` (what the strategy carries to the next round).
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


@dataclass(frozen=True)
class QueryRow:
    """One item of the next batch: what to label, how informative it is, and why."""

    external_id: str
    score: float | None
    reason: str
    priority: float


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


@dataclass(frozen=True)
class StatusInfo:
    """Where a project stands: counts, rounds, and whether labelling still pays off.

    Attributes
    ----------
    should_stop : bool
        True when a stopping criterion says labelling has reached diminishing returns.
    verdict : str
        ``"keep labelling: ..."`` or ``"diminishing returns: ..."``, in words.
    reasons : tuple of str
        Each criterion's verdict in words.
    """

    project: str
    n_items: int
    n_labelled: int
    n_open: int
    n_in_review: int
    n_eval: int
    n_eval_labelled: int
    rounds: tuple[RoundInfo, ...]
    should_stop: bool
    verdict: str
    reasons: tuple[str, ...]


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Project:
    id: int
    name: str
    task_type: str
    labels: list[str]
    multi_label: bool
    strategy: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class _Labelled:
    item_ids: list[int]
    inputs: list[ItemInput]
    labels: list[Any]


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def project_dir(db: Database, project_id: int) -> Path:
    """The project's own artifact directory: ``<artifact dir>/project-<id>``."""
    return Path(db.artifact_dir) / f"project-{project_id}"


def _snapshot(row: ProjectRow) -> _Project:
    return _Project(
        id=row.id,
        name=row.name,
        task_type=row.task_type,
        labels=list(row.labels),
        multi_label=bool(row.multi_label),
        strategy=row.strategy,
        settings=effective_settings(row),
    )


def _labelled(session: Session, project_id: int, *, is_eval: bool) -> _Labelled:
    from labelloop.models.builtin import ItemInput

    rows = session.execute(
        select(ItemRow.id, ItemRow.payload, ItemRow.media_ref, ItemRow.final_label)
        .where(
            ItemRow.project_id == project_id,
            ItemRow.status.in_(LABELLED_STATUSES),
            ItemRow.is_eval.is_(is_eval),
        )
        .order_by(ItemRow.id)
    ).all()
    rows = [r for r in rows if r.final_label is not None]
    return _Labelled(
        item_ids=[r.id for r in rows],
        inputs=[ItemInput(r.payload or {}, r.media_ref) for r in rows],
        labels=[r.final_label for r in rows],
    )


def _annotation_ids(session: Session, project_id: int, item_ids: set[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    rows = session.execute(
        select(AnnotationRow.item_id, AnnotationRow.id)
        .where(AnnotationRow.project_id == project_id, AnnotationRow.status == "active")
        .order_by(AnnotationRow.id)
    )
    for item_id, annotation_id in rows:
        if item_id in item_ids:
            found.setdefault(item_id, []).append(annotation_id)
    return found


def _item_chunks(
    db: Database, project_id: int, size: int, *, is_eval: bool
) -> Iterator[tuple[list[int], list[ItemInput]]]:
    """The open non-eval pool (or the evaluation set), ``size`` items at a time.

    Keyset pages (``id > last``), each in its own short read transaction.
    """
    from labelloop.models.builtin import ItemInput

    conditions = [ItemRow.project_id == project_id, ItemRow.is_eval.is_(is_eval)]
    if not is_eval:
        conditions.append(ItemRow.status == "open")
    last = 0
    while True:
        with db.read() as session:
            rows = session.execute(
                select(ItemRow.id, ItemRow.payload, ItemRow.media_ref)
                .where(*conditions, ItemRow.id > last)
                .order_by(ItemRow.id)
                .limit(size)
            ).all()
        if not rows:
            return
        yield [r.id for r in rows], [ItemInput(r.payload or {}, r.media_ref) for r in rows]
        last = rows[-1].id


def _count_pool(session: Session, project_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(ItemRow)
        .where(
            ItemRow.project_id == project_id,
            ItemRow.status == "open",
            ItemRow.is_eval.is_(False),
        )
    ).scalar_one()


def _can_fit(project: _Project, labels: Sequence[Any]) -> bool:
    if len(labels) < 2:
        return False
    if project.multi_label:
        return len({tuple(sorted(lab)) for lab in labels}) >= 2
    return len({str(lab) for lab in labels}) >= 2


def _stack(blocks: list[Any]) -> Any:
    if any(sp.issparse(b) for b in blocks):
        return sp.vstack(blocks, format="csr")
    return np.vstack(blocks)


def _uncertainty(proba: np.ndarray, *, multi_label: bool) -> np.ndarray:
    from labelloop.strategies import least_confidence

    if proba.shape[0] == 0:
        return np.zeros(0)
    return np.asarray(least_confidence(proba, multilabel=multi_label), dtype=np.float64)


def _predicted_labels(proba: np.ndarray, labels: list[str], *, multi_label: bool) -> list[str]:
    if multi_label:
        return [",".join(n for n, p in zip(labels, row, strict=True) if p >= 0.5) for row in proba]
    return [labels[i] for i in proba.argmax(axis=1)]


def _probability_dicts(proba: np.ndarray, labels: list[str]) -> list[dict[str, float]]:
    rounded = np.round(proba, 6).tolist()
    return [dict(zip(labels, row, strict=True)) for row in rounded]


# --------------------------------------------------------------------------- scoring


@dataclass
class _Scored:
    item_ids: np.ndarray  # ascending, as the keyset pages read them
    scores: np.ndarray
    max_uncertainty: float | None
    batch_ids: list[int]
    reasons: list[str]
    strategy: str
    state: dict[str, Any]

    def priorities(self) -> np.ndarray:
        """Every scored item's priority outside the batch: its score's rank in [0, 1)."""
        return rank_priorities(self.scores)

    def batch_rows(self) -> list[tuple[int, float, str | None]]:
        """(item id, priority, reason) of the picked batch: ``2 + (k - rank) / k``."""
        on_top = batch_priorities(len(self.batch_ids)).tolist()
        return [
            (
                item_id,
                on_top[rank],
                self.reasons[rank][:300] if rank < len(self.reasons) else None,
            )
            for rank, item_id in enumerate(self.batch_ids)
        ]


def _select(strategy, estimator, X_lab, y_lab, X_pool, k, *, state, classes, seed):
    from labelloop.selection import select_batch

    return select_batch(
        strategy,
        estimator,
        X_lab,
        y_lab,
        X_pool,
        k,
        state=state,
        classes=classes,
        random_state=seed,
    )


def _score_pool(
    pacer: _Pacer,
    project: _Project,
    model: ProjectModel,
    model_version_id: int | None,
    X_lab,
    y_lab,
    *,
    k: int,
    state: dict[str, Any] | None,
    seed: int,
    pool_size: int,
    progress: Progress | None,
) -> _Scored:
    """Score the pool chunk by chunk, writing each chunk's predictions as it goes.

    Holds only the item ids, scores and each chunk's batch proposal between chunks, so
    memory does not grow with the pool beyond two numbers per item.
    """
    fitted = model_version_id is not None
    estimator = model.classifier if fitted else None
    classes = list(project.labels)
    ids: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    max_uncertainty: float | None = None
    cand_ids: list[int] = []
    cand_rows: list[Any] = []
    last = None
    done = 0
    for chunk_ids, inputs in _item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=False):
        X = model.featurizer.transform(inputs)
        selection = _select(
            project.strategy,
            estimator,
            X_lab,
            y_lab,
            X,
            min(k, len(chunk_ids)),
            state=state,
            classes=classes,
            seed=seed,
        )
        chunk_scores = np.asarray(selection.scores, dtype=np.float64)
        ids.append(np.asarray(chunk_ids, dtype=np.int64))
        scores.append(chunk_scores)
        if fitted:
            proba = model.predict_proba(X)
            uncertainty = _uncertainty(proba, multi_label=project.multi_label)
            if uncertainty.size:
                top = float(uncertainty.max())
                max_uncertainty = top if max_uncertainty is None else max(max_uncertainty, top)
            _write_predictions(pacer, project, model_version_id, chunk_ids, proba, chunk_scores)
        picked = np.asarray(selection.indices, dtype=np.int64)
        cand_ids.extend(int(chunk_ids[i]) for i in picked)
        cand_rows.append(X[picked])
        last = selection
        done += len(chunk_ids)
        if progress:
            progress("score", done, pool_size)
    if last is None:
        return _Scored(
            np.zeros(0, np.int64), np.zeros(0), None, [], [], project.strategy, state or {}
        )
    if len(ids) > 1:
        # Each chunk proposed its own batch; the final batch is picked among the proposals.
        last = _select(
            project.strategy,
            estimator,
            X_lab,
            y_lab,
            _stack(cand_rows),
            min(k, len(cand_ids)),
            state=state,
            classes=classes,
            seed=seed,
        )
        batch_ids = [cand_ids[int(i)] for i in last.indices]
    else:
        batch_ids = [int(ids[0][int(i)]) for i in last.indices]
    return _Scored(
        item_ids=np.concatenate(ids),
        scores=np.concatenate(scores),
        max_uncertainty=max_uncertainty,
        batch_ids=batch_ids,
        reasons=list(last.reasons),
        strategy=str(last.strategy),
        state=dict(last.state or {}),
    )


def _score_eval_set(
    pacer: _Pacer,
    project: _Project,
    model: ProjectModel,
    model_version_id: int,
    previous_id: int | None,
) -> tuple[list[str], list[str]]:
    """Predict the evaluation set chunk by chunk, writing the predictions as it goes.

    Returns the labels the previous model and this one predict for the evaluation items
    both predicted, in the same order (for the stabilising-predictions criterion).
    """
    before: list[str] = []
    now: list[str] = []
    for chunk_ids, inputs in _item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=True):
        proba = model.predict_proba(model.featurizer.transform(inputs))
        uncertainty = _uncertainty(proba, multi_label=project.multi_label)
        _write_predictions(pacer, project, model_version_id, chunk_ids, proba, uncertainty)
        if previous_id is None:
            continue
        previous = _predicted_by(pacer.db, project, previous_id, chunk_ids)
        labels = _predicted_labels(proba, project.labels, multi_label=project.multi_label)
        for item_id, label in zip(chunk_ids, labels, strict=True):
            if item_id in previous:
                before.append(previous[item_id])
                now.append(label)
    return before, now


def _predicted_by(
    db: Database, project: _Project, model_version_id: int, item_ids: list[int]
) -> dict[int, str]:
    """The label a stored model version predicted for each of ``item_ids`` it scored."""
    found: dict[int, str] = {}
    with db.read() as session:
        for start in range(0, len(item_ids), IN_BATCH):
            rows = session.execute(
                select(PredictionRow.item_id, PredictionRow.probabilities).where(
                    PredictionRow.model_version_id == model_version_id,
                    PredictionRow.item_id.in_(item_ids[start : start + IN_BATCH]),
                )
            ).all()
            if not rows:
                continue
            proba = np.asarray(
                [[float((p or {}).get(n, 0.0)) for n in project.labels] for _, p in rows]
            )
            labels = _predicted_labels(proba, project.labels, multi_label=project.multi_label)
            found.update(zip((item_id for item_id, _ in rows), labels, strict=True))
    return found


# --------------------------------------------------------------------------- writes


class _Pacer:
    """Runs a long write as short write transactions, leaving the lock free between them.

    Each transaction takes as many rows as held the lock about `WRITE_TARGET_S` last
    time (at most `WRITE_BATCH`; rows cost differently by statement, so one pacer paces
    one kind of write). On SQLite, whose one write lock every writer shares, it is
    followed by a pause as long as it held the lock.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.size = min(250, WRITE_BATCH)
        self.pause = db.dialect == "sqlite"

    def write(
        self,
        n: int,
        write: Callable[[Session, int, int], None],
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """Call ``write(session, start, stop)`` over ``range(n)``, one transaction a slice."""
        start = 0
        while start < n:
            stop = min(start + self.size, n)
            with self.db.transaction() as session:
                session.connection()  # BEGIN (IMMEDIATE on SQLite): the lock is held from here
                began = time.perf_counter()
                write(session, start, stop)
            held = time.perf_counter() - began
            growth = min(2.0, WRITE_TARGET_S / max(held, 1e-4))
            self.size = max(min(100, WRITE_BATCH), min(WRITE_BATCH, int(self.size * growth)))
            start = stop
            if on_progress:
                on_progress(stop)
            if self.pause:
                time.sleep(held)


def _insert_batched(session: Session, table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), WRITE_BATCH):
        session.execute(table.insert(), rows[start : start + WRITE_BATCH])


def _write_predictions(
    pacer: _Pacer,
    project: _Project,
    model_version_id: int,
    item_ids: Sequence[int],
    proba: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Insert one chunk's predictions in paced write transactions.

    The JSON is built before any transaction, so a transaction only hands rows to the
    driver's ``executemany``.
    """
    texts = [json.dumps(p) for p in _probability_dicts(proba, project.labels)]
    rows = list(zip(item_ids, texts, np.asarray(scores, dtype=np.float64).tolist(), strict=True))

    def insert(session: Session, start: int, stop: int) -> None:
        connection = session.connection()
        dialect = connection.dialect
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        created = PredictionRow.__table__.c.created_at.type
        to_db = created.dialect_impl(dialect).bind_processor(dialect)
        now = to_db(utcnow()) if to_db is not None else utcnow()
        connection.exec_driver_sql(
            "INSERT INTO predictions (project_id, item_id, model_version_id, probabilities, "
            f"score, created_at) VALUES ({', '.join([marker] * 6)})",
            [
                (project.id, item_id, model_version_id, text, score, now)
                for item_id, text, score in rows[start:stop]
            ],
        )

    pacer.write(len(rows), insert)


def _refresh_priorities(
    session: Session, dialect: str, project_id: int, rows: list[tuple[int, float, str | None]]
) -> None:
    """Set open non-eval label tasks' priority and reason by item id: (item, priority, reason)."""
    if not rows:
        return
    tasks = TaskRow.__table__
    now = utcnow()
    if dialect == "postgresql":
        refreshed = values(
            column("item_id", Integer),
            column("priority", Float),
            column("reason", String),
            name="refreshed",
        ).data(rows)
        session.execute(
            update(tasks)
            .where(
                tasks.c.item_id == refreshed.c.item_id,
                tasks.c.project_id == project_id,
                tasks.c.queue == "label",
                tasks.c.status == "open",
                tasks.c.is_eval.is_(False),
            )
            .values(priority=refreshed.c.priority, reason=refreshed.c.reason, updated_at=now)
        )
        return
    connection = session.connection()
    stamp = tasks.c.updated_at.type.dialect_impl(connection.dialect)
    to_db = stamp.bind_processor(connection.dialect)
    moment = to_db(now) if to_db is not None else now
    connection.exec_driver_sql(
        "UPDATE tasks SET priority = ?, reason = ?, updated_at = ? "
        "WHERE item_id = ? AND queue = 'label' AND status = 'open' AND is_eval = 0",
        [(priority, reason, moment, item_id) for item_id, priority, reason in rows],
    )


def _put_batch_first(
    session: Session, dialect: str, project_id: int, scored: _Scored, priorities: np.ndarray
) -> None:
    """Give the batch the top of the queue, in pick order, and take any other task off it.

    Tasks above 2 that are not in this batch (an earlier round's or a client model's
    batch) go down to their rank in this round, or by 2 where this round did not score
    them, so that the batch is first however far the rest of the refresh has got.
    """
    rows = scored.batch_rows()
    picked = set(scored.batch_ids)
    above = session.execute(
        select(TaskRow.item_id, TaskRow.priority).where(
            TaskRow.project_id == project_id,
            TaskRow.queue == "label",
            TaskRow.status == "open",
            TaskRow.priority >= BATCH_BONUS,
            TaskRow.is_eval.is_(False),
        )
    ).all()
    for item_id, priority in above:
        if item_id in picked:
            continue
        where = int(np.searchsorted(scored.item_ids, item_id))
        if where < scored.item_ids.size and scored.item_ids[where] == item_id:
            rows.append((item_id, float(priorities[where]), None))
        else:
            rows.append((item_id, float(priority) - BATCH_BONUS, None))
    _refresh_priorities(session, dialect, project_id, rows)


def _write_priorities(
    db: Database,
    project: _Project,
    scored: _Scored,
    priorities: np.ndarray,
    progress: Progress | None,
) -> int:
    """Re-prioritise the pool's tasks, the batch first, in paced write transactions.

    Returns the number of tasks written.
    """
    pacer = _Pacer(db)
    with db.transaction() as session:
        _put_batch_first(session, db.dialect, project.id, scored, priorities)
    rest = ~np.isin(scored.item_ids, np.asarray(scored.batch_ids, dtype=np.int64))
    item_ids = scored.item_ids[rest]
    rest_priorities = priorities[rest]
    total = int(item_ids.size)

    def refresh(session: Session, start: int, stop: int) -> None:
        rows = [
            (item_id, priority, None)
            for item_id, priority in zip(
                item_ids[start:stop].tolist(), rest_priorities[start:stop].tolist(), strict=True
            )
        ]
        _refresh_priorities(session, db.dialect, project.id, rows)

    if progress:
        progress("write", 0, total)
    pacer.write(total, refresh, (lambda done: progress("write", done, total)) if progress else None)
    return total + len(scored.batch_ids)


def _drop_stale_predictions(db: Database, project_id: int, keep: set[int | None]) -> None:
    """Delete pool predictions of built-in model versions other than ``keep``, in chunks.

    They are no longer read: the queue follows the newest round, and the stopping
    criteria read the previous round's. Evaluation-set predictions stay for learning
    curves. Model versions a failed round left behind are cleaned up here too.
    """
    pacer = _Pacer(db)
    with db.read() as session:
        stale = [
            version_id
            for version_id in session.execute(
                select(ModelVersionRow.id).where(
                    ModelVersionRow.project_id == project_id, ModelVersionRow.kind == "builtin"
                )
            ).scalars()
            if version_id not in keep
        ]
    for version_id in stale:
        last = 0
        while True:
            with db.read() as session:
                rows = session.execute(
                    select(PredictionRow.id, PredictionRow.item_id)
                    .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                    .where(
                        PredictionRow.model_version_id == version_id,
                        PredictionRow.item_id > last,
                        ItemRow.is_eval.is_(False),
                    )
                    .order_by(PredictionRow.item_id)
                    .limit(WRITE_BATCH)
                ).all()
            if not rows:
                break
            last = rows[-1].item_id
            ids = [row.id for row in rows]

            def remove(session: Session, start: int, stop: int, ids: list[int] = ids) -> None:
                session.execute(delete(PredictionRow).where(PredictionRow.id.in_(ids[start:stop])))

            pacer.write(len(ids), remove)


def _next_number(session: Session, column_, project_column, project_id: int) -> int:
    current = session.execute(select(func.max(column_)).where(project_column == project_id))
    return int(current.scalar_one() or 0) + 1


def _external_ids(session: Session, item_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), IN_BATCH):
        rows = session.execute(
            select(ItemRow.id, ItemRow.external_id).where(
                ItemRow.id.in_(ids[start : start + IN_BATCH])
            )
        )
        found.update({item_id: external_id for item_id, external_id in rows})
    return found


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
        created_at=_aware(row.created_at),
    )


# --------------------------------------------------------------------------- train


def _check_actor(actor: Any) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("actor must name who trains (a user or cli:<os user>)", field="actor")
    return actor


def _stopping_metrics(
    previous: list[str], current: list[str], max_uncertainty: float | None
) -> dict[str, Any]:
    from labelloop.strategies import stopping

    verdicts: dict[str, Any] = {}
    if previous:
        decision = stopping.stabilizing_predictions(previous, current, threshold=STOP_KAPPA)
        verdicts["stabilizing_predictions"] = {
            "stop": decision.stop,
            "value": decision.value,
            "reason": decision.reason,
        }
    if max_uncertainty is not None:
        decision = stopping.max_uncertainty_below(np.array([max_uncertainty]), STOP_UNCERTAINTY)
        verdicts["max_uncertainty"] = {
            "stop": decision.stop,
            "value": decision.value,
            "reason": decision.reason,
        }
    return verdicts


def train(
    db: Database, *, actor: str, project: int | str, progress: Progress | None = None
) -> RoundInfo:
    """Make one round: snapshot the labels, fit, score the pool, re-prioritise the queue.

    No write transaction grows with the pool (see the module's notes): annotators keep
    leasing and submitting while a round runs.

    Parameters
    ----------
    db : Database
    actor : str
        Who trains: a user name, ``cli:<os user>``, or ``model:<name>`` for retrain jobs.
    project : int or str
        The project's id or name.
    progress : callable, optional
        ``progress(stage, done, total)`` for stages ``fit``, ``score`` and ``write``.

    Returns
    -------
    RoundInfo
        The new round. With fewer than two classes labelled no model is fitted
        (``model_version`` is None) and the queue is ordered by diversity alone.

    Raises
    ------
    NotFoundError
        No such project.
    ValidationError
        The project has no items, or its ``model`` setting is invalid.
    """
    from labelloop.models.builtin import (
        build_model,
        check_model_spec,
        cross_validated_metrics,
        label_metrics,
    )

    actor = _check_actor(actor)
    read_at = utcnow()
    with db.read() as session:
        proj = _snapshot(resolve_project(session, project))
        train_set = _labelled(session, proj.id, is_eval=False)
        eval_set = _labelled(session, proj.id, is_eval=True)
        annotations = _annotation_ids(session, proj.id, set(train_set.item_ids))
        pool_size = _count_pool(session, proj.id)
        sample = _sample(session, proj.id, FEATURIZER_SAMPLE, is_eval=False)
        if not (train_set.inputs or sample):
            sample = _sample(session, proj.id, FEATURIZER_SAMPLE, is_eval=True)
        previous = (
            session.execute(
                select(RoundRow)
                .where(RoundRow.project_id == proj.id)
                .order_by(RoundRow.number.desc())
            )
            .scalars()
            .first()
        )
        prev_state = (previous.metrics or {}).get("strategy_state") if previous else None
        previous_model_id = previous.model_version_id if previous else None
        seed = previous.number + 1 if previous else 1
    if not (train_set.item_ids or sample):
        raise ValidationError(
            f"project {proj.name!r} has no items to train on: import some first", field="project"
        )
    if progress:
        progress("fit", 0, 1)
    spec = check_model_spec(proj.settings.get("model"))
    model = build_model(
        proj.task_type,
        labels=proj.labels,
        multi_label=proj.multi_label,
        spec=spec,
        media_root=proj.settings.get("media_root"),
    )
    model.featurizer.fit(train_set.inputs + sample)
    X_lab = model.featurizer.transform(train_set.inputs)
    y_lab = model.encode_labels(train_set.labels)
    fitted = _can_fit(proj, train_set.labels)
    metrics: dict[str, Any] = {"pool_size": pool_size, "n_eval_labelled": len(eval_set.labels)}
    if fitted:
        model.fit(X_lab, y_lab)
        if eval_set.inputs:
            X_eval = model.featurizer.transform(eval_set.inputs)
            metrics["eval"] = label_metrics(
                model, model.encode_labels(eval_set.labels), model.predict_labels(X_eval)
            )
        cv = cross_validated_metrics(model, X_lab, y_lab, random_state=seed)
        if cv is not None:
            metrics["cv"] = cv
    if progress:
        progress("fit", 1, 1)
    versions = None
    if fitted:
        versions = _write_model_version(
            db, proj, actor=actor, model=model, seed=seed, train_set=train_set,
            annotations=annotations, metrics=metrics,
        )  # fmt: skip
    model_version_id = versions.model_id if versions else None
    pacer = _Pacer(db)  # for predictions, of the eval set and the pool
    before, now = [], []
    if model_version_id is not None:
        before, now = _score_eval_set(pacer, proj, model, model_version_id, previous_model_id)
    scored = _score_pool(
        pacer,
        proj,
        model,
        model_version_id,
        X_lab,
        y_lab,
        k=int(proj.settings.get("batch_size") or 20),
        state=prev_state,
        seed=seed,
        pool_size=pool_size,
        progress=progress,
    )
    metrics["strategy_state"] = scored.state
    if fitted:
        if scored.max_uncertainty is not None:
            metrics["max_uncertainty"] = round(scored.max_uncertainty, 6)
        metrics["stopping"] = _stopping_metrics(before, now, scored.max_uncertainty)
    priorities = scored.priorities()
    n_reprioritised = _write_priorities(db, proj, scored, priorities, progress)
    info = _write_round(
        db,
        proj,
        actor=actor,
        versions=versions,
        train_set=train_set,
        annotations=annotations,
        scored=scored,
        priorities=priorities,
        metrics=metrics,
        n_reprioritised=n_reprioritised,
        read_at=read_at,
    )
    if model_version_id is not None:
        _drop_stale_predictions(db, proj.id, {model_version_id, previous_model_id})
    return info


def _sample(session: Session, project_id: int, size: int, *, is_eval: bool) -> list[ItemInput]:
    """The first ``size`` open pool items (or evaluation items), for the featurizer."""
    from labelloop.models.builtin import ItemInput

    conditions = [ItemRow.project_id == project_id, ItemRow.is_eval.is_(is_eval)]
    if not is_eval:
        conditions.append(ItemRow.status == "open")
    rows = session.execute(
        select(ItemRow.payload, ItemRow.media_ref)
        .where(*conditions)
        .order_by(ItemRow.id)
        .limit(size)
    ).all()
    return [ItemInput(r.payload or {}, r.media_ref) for r in rows]


@dataclass(frozen=True)
class _Versions:
    dataset_id: int
    dataset_version: int
    model_id: int
    model_version: int


def _add_dataset_version(
    session: Session,
    project: _Project,
    *,
    actor: str,
    train_set: _Labelled,
    annotations: dict[int, list[int]],
) -> DatasetVersionRow:
    dataset = DatasetVersionRow(
        project_id=project.id,
        version=_next_number(
            session, DatasetVersionRow.version, DatasetVersionRow.project_id, project.id
        ),
        n_items=len(train_set.item_ids),
        created_by=actor,
    )
    session.add(dataset)
    session.flush()
    _insert_batched(
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


def _write_model_version(
    db: Database,
    project: _Project,
    *,
    actor: str,
    model: ProjectModel,
    seed: int,
    train_set: _Labelled,
    annotations: dict[int, list[int]],
    metrics: dict[str, Any],
) -> _Versions:
    """Save the artifact; commit the dataset version, the model version and ``model.trained``.

    The dataset version is as large as the labelled set, never the pool.
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
            dataset = _add_dataset_version(
                session, project, actor=actor, train_set=train_set, annotations=annotations
            )
            version = _next_number(
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
            append_event(
                session,
                project_id=project.id,
                actor=actor,
                action="model.trained",
                target=f"model_version:{version}",
                after={
                    "model_version": version,
                    "dataset_version": dataset.version,
                    "n_labels": len(train_set.item_ids),
                    "metrics": row.metrics,
                    "artifact_sha256": row.artifact_sha256,
                },
            )
            return _Versions(dataset.id, dataset.version, row.id, row.version)
    except BaseException:
        if final_path is not None:
            final_path.unlink(missing_ok=True)
        raise
    finally:
        saved.path.unlink(missing_ok=True)


def _write_round(
    db: Database,
    project: _Project,
    *,
    actor: str,
    versions: _Versions | None,
    train_set: _Labelled,
    annotations: dict[int, list[int]],
    scored: _Scored,
    priorities: np.ndarray,
    metrics: dict[str, Any],
    n_reprioritised: int,
    read_at: dt.datetime,
) -> RoundInfo:
    """Commit the round, its batch (first in the queue again) and ``round.completed``."""
    with db.transaction() as session:
        session.execute(select(ProjectRow.id).where(ProjectRow.id == project.id).with_for_update())
        number = _next_number(session, RoundRow.number, RoundRow.project_id, project.id)
        if versions is None:
            dataset = _add_dataset_version(
                session, project, actor=actor, train_set=train_set, annotations=annotations
            )
            dataset_id, dataset_version = dataset.id, dataset.version
        else:
            dataset_id, dataset_version = versions.dataset_id, versions.dataset_version
        # Another writer may have raised tasks since the refresh began: the batch leads.
        _put_batch_first(session, db.dialect, project.id, scored, priorities)
        round_row = RoundRow(
            project_id=project.id,
            number=number,
            dataset_version_id=dataset_id,
            model_version_id=versions.model_id if versions else None,
            strategy=scored.strategy,
            batch=list(scored.batch_ids),
            metrics=json.loads(json.dumps(metrics, default=float)),
            n_labels=len(train_set.item_ids),
            created_at=read_at,
        )
        session.add(round_row)
        session.flush()
        append_event(
            session,
            project_id=project.id,
            actor=actor,
            action="round.completed",
            target=f"round:{number}",
            after={
                "round": number,
                "dataset_version": dataset_version,
                "model_version": versions.model_version if versions else None,
                "n_labels": len(train_set.item_ids),
                "strategy": scored.strategy,
                "batch_size": len(scored.batch_ids),
                "n_reprioritised": n_reprioritised,
            },
        )
        external = _external_ids(session, scored.batch_ids)
        models = {versions.model_id: versions.model_version} if versions else {}
        info = _round_info(round_row, external, {dataset_id: dataset_version}, models)
        # Webhooks hear of every round, whoever trained it (a job, the CLI, a library user).
        emit_event(
            session,
            project_id=project.id,
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
                project_id=project.id,
                event="batch.ready",
                payload={
                    "round": info.number,
                    "model_version": info.model_version,
                    "batch": list(info.batch),
                },
            )
        return info


# --------------------------------------------------------------------------- reads


def load_project_model(
    db: Database, project: int | str, version: int | None = None
) -> tuple[ModelVersionInfo, ProjectModel]:
    """A built-in model version and its model, loaded from the checked artifact.

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
            created_at=_aware(row.created_at),
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


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError(f"n must be a positive number of items, got {n!r}", field="n")
    return n


def query(db: Database, project: int | str, n: int = 10) -> list[QueryRow]:
    """The next ``n`` items to label: open non-eval tasks, highest priority first.

    Each row carries the item's external id, its informativeness score under the newest
    model version (None before the first model), the reason it is there, and its priority.
    """
    n = _check_n(n)
    with db.read() as session:
        proj = resolve_project(session, project)
        rows = session.execute(
            select(TaskRow.item_id, TaskRow.priority, TaskRow.reason, ItemRow.external_id)
            .join(ItemRow, ItemRow.id == TaskRow.item_id)
            .where(
                TaskRow.project_id == proj.id,
                TaskRow.queue == "label",
                TaskRow.status == "open",
                TaskRow.is_eval.is_(False),
            )
            .order_by(TaskRow.priority.desc(), TaskRow.id)
            .limit(n)
        ).all()
        latest = session.execute(
            select(ModelVersionRow.id, ModelVersionRow.version)
            .where(ModelVersionRow.project_id == proj.id)
            .order_by(ModelVersionRow.version.desc())
            .limit(1)
        ).first()
        scores: dict[int, float] = {}
        if latest is not None and rows:
            scores = dict(
                session.execute(
                    select(PredictionRow.item_id, PredictionRow.score).where(
                        PredictionRow.model_version_id == latest.id,
                        PredictionRow.item_id.in_([r.item_id for r in rows]),
                    )
                ).all()
            )
    result = []
    for row in rows:
        score = scores.get(row.item_id)
        if row.reason:
            reason = row.reason
        elif score is not None:
            reason = f"ranked by informativeness under model version {latest.version}"
        else:
            reason = "cold-start order (no round yet)"
        result.append(QueryRow(row.external_id, score, reason, float(row.priority)))
    return result


def list_rounds(db: Database, project: int | str) -> list[RoundInfo]:
    """Every round of a project, oldest first, with its metrics and batch."""
    with db.read() as session:
        proj = resolve_project(session, project)
        return _rounds(session, proj.id)


def _rounds(session: Session, project_id: int) -> list[RoundInfo]:
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
    external = _external_ids(session, [int(i) for r in rows for i in (r.batch or ())])
    return [_round_info(row, external, dataset_versions, model_versions) for row in rows]


def _stable_over_window(modelled: Sequence[RoundInfo]) -> bool:
    """Whether the last `STOP_WINDOW` retrains each added labels and each stabilised."""
    window = list(modelled[-STOP_WINDOW - 1 :])
    if len(window) < STOP_WINDOW + 1:
        return False
    for before, after in zip(window, window[1:], strict=False):
        verdict = after.metrics.get("stopping", {}).get("stabilizing_predictions")
        if verdict is None or not verdict["stop"] or after.n_labels <= before.n_labels:
            return False
    return True


def project_status(db: Database, project: int | str) -> StatusInfo:
    """Counts, rounds with metrics, and the stopping verdict of a project."""
    from labelloop.strategies import stopping

    with db.read() as session:
        proj = resolve_project(session, project)
        counts: dict[tuple[str, bool], int] = {}
        for status, is_eval, count in session.execute(
            select(ItemRow.status, ItemRow.is_eval, func.count())
            .where(ItemRow.project_id == proj.id)
            .group_by(ItemRow.status, ItemRow.is_eval)
        ):
            counts[(status, bool(is_eval))] = count
        rounds = _rounds(session, proj.id)
        settings = effective_settings(proj)
        name = proj.name

    def total(statuses: Sequence[str] | None = None, is_eval: bool | None = None) -> int:
        return sum(
            c
            for (s, e), c in counts.items()
            if (statuses is None or s in statuses) and (is_eval is None or e == is_eval)
        )

    n_labelled = total(LABELLED_STATUSES)
    reasons: list[str] = []
    stops: list[str] = []
    modelled = [r for r in rounds if r.model_version is not None]
    if not modelled:
        reasons.append("no model trained yet: label items of at least two classes and train")
    else:
        for name, verdict in modelled[-1].metrics.get("stopping", {}).items():
            reasons.append(verdict["reason"])
            stop = verdict["stop"]
            if name == "stabilizing_predictions":
                stop = _stable_over_window(modelled)
                if verdict["stop"] and not stop:
                    reasons.append(
                        f"predictions must stay stable over {STOP_WINDOW} retrains "
                        "that each add labels before that counts"
                    )
            if stop:
                stops.append(verdict["reason"])
    budget = settings.get("label_budget")
    if budget:
        decision = stopping.budget_exhausted(n_labelled, int(budget))
        reasons.append(decision.reason)
        if decision.stop:
            stops.append(decision.reason)
    if stops:
        verdict_text = "diminishing returns: " + "; ".join(stops)
    else:
        verdict_text = "keep labelling: " + "; ".join(reasons)
    return StatusInfo(
        project=name,
        n_items=total(),
        n_labelled=n_labelled,
        n_open=total(("open",)),
        n_in_review=total(("in_review",)),
        n_eval=total(is_eval=True),
        n_eval_labelled=total(LABELLED_STATUSES, is_eval=True),
        rounds=tuple(rounds),
        should_stop=bool(stops),
        verdict=verdict_text,
        reasons=tuple(reasons),
    )
