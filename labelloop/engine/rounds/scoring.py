"""Scoring: the evaluation set and the pool through the new model, predictions written.

Rules
-----
1. The pool is scored `CHUNK_SIZE` items at a time, as `inputs.item_chunks` reads it;
   between chunks only the item ids, their scores and each chunk's batch proposal are
   held, so memory grows by two numbers per pool item, not by the pool.
2. Each chunk proposes its own batch; the final batch is picked among the proposals
   (`labelloop.selection.select_chunked`, which `ActiveLearner` and `simulate` use too).
3. Each chunk's predictions (probabilities rounded to 6 places, and the item's
   informativeness on the project's uncertainty scale, rule 6) are written as the chunk
   is scored, in paced write transactions (`labelloop.store.writes.WritePacer`).
4. Pool predictions of model versions other than the newest and the one before are
   deleted after the round commits (`drop_stale_predictions`): the queue follows the
   newest round and the stopping criteria read the previous one's. Evaluation-set
   predictions stay, for learning curves, and so do those of the items a round put in
   its batch, so an item's history shows why it was picked: the table grows by a
   batch per round, not by the pool.
5. The predictions of a round that failed all go, the evaluation set's too
   (`delete_predictions`). Deletions are paced like the writes.
6. One uncertainty scale per project (`ScoredPool.measure`,
   `labelloop.engine.core.priority.uncertainty_measure`): every prediction's score is
   on it, the pool's highest uncertainty in ``status`` too, so ``status`` and ``query``
   show the same number for an item, and the queue places the pool outside the batch
   by it (`ScoredPool.priorities`), on the scale client models' pushes and newly
   imported items join.
7. With a Dask scheduler address (`score_pool_on_dask`, the ``[scale]`` extra) the pages
   are scored on the cluster (`labelloop.scale.select_on_dask`): the model goes to the
   workers once, each page comes back as its candidates and a histogram of its
   uncertainty. The batch equals the one-process batch (same pages, same seed); the
   pool's highest uncertainty is exact; predictions are written for the candidates
   only, and only their tasks are re-prioritised: the rest keep their place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelloop.engine.core.priority import (
    batch_priorities,
    rank_priorities,
    scored_priorities,
    uncertainty,
    uncertainty_measure,
    unscored_priorities,
)
from labelloop.engine.rounds.inputs import IN_BATCH, ProjectSnapshot, item_chunks
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow, RoundRow, utcnow
from labelloop.store.writes import WritePacer, driver_value, insert_many

if TYPE_CHECKING:  # scikit-learn loads on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = [
    "CHUNK_SIZE",
    "Progress",
    "ScoredPool",
    "delete_predictions",
    "drop_stale_predictions",
    "score_eval_set",
    "score_pool",
    "score_pool_on_dask",
    "write_predictions",
]

CHUNK_SIZE = 20_000  # items read, featurised and scored at a time

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stages ``fit``, ``score`` and ``write``."""

_PREDICTION_COLUMNS = (
    "project_id",
    "item_id",
    "model_version_id",
    "probabilities",
    "score",
    "created_at",
)


@dataclass
class ScoredPool:
    """The scored pool and the batch picked from it.

    ``item_ids`` ascend, as the keyset pages read them; ``scores`` are the strategy's,
    in the same order, and ``uncertainty`` each item's informativeness on the project's
    uncertainty scale, ``measure`` (rule 6; None on a cold start, with no model);
    ``max_uncertainty`` is the pool's highest; ``batch_ids`` are in pick order,
    ``reasons`` beside them. Scored on Dask (rule 7), the arrays hold the candidates
    only, and ``cluster`` says how (partitions, pool size, the uncertainty histogram).
    """

    item_ids: np.ndarray
    scores: np.ndarray
    uncertainty: np.ndarray | None
    max_uncertainty: float | None
    measure: str
    batch_ids: list[int]
    reasons: list[str]
    strategy: str
    state: dict[str, Any]
    cluster: dict[str, Any] | None = None

    def priorities(self) -> np.ndarray:
        """Every scored item's priority outside the batch (`labelloop.engine.core.priority`):
        its informativeness's, else (a cold start) its score's rank in the unscored range."""
        if self.uncertainty is not None:
            return scored_priorities(self.uncertainty)
        return unscored_priorities(rank_priorities(self.scores))

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


# --------------------------------------------------------------------------- scoring


def _predicted_labels(proba: np.ndarray, labels: list[str], *, multi_label: bool) -> list[str]:
    if multi_label:
        return [",".join(n for n, p in zip(labels, row, strict=True) if p >= 0.5) for row in proba]
    return [labels[i] for i in proba.argmax(axis=1)]


def score_pool(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: ProjectModel,
    model_version_id: int | None,
    X_lab: Any,
    y_lab: Any,
    *,
    k: int,
    state: dict[str, Any] | None,
    seed: int,
    pool_size: int,
    progress: Progress | None,
    auto_options: dict[str, Any] | None = None,
) -> ScoredPool:
    """Score the pool chunk by chunk, writing each chunk's predictions as it goes (rule 1).

    Without a model version (a cold start) nothing is predicted: the strategy orders the
    pool by diversity alone. ``auto_options`` are ``auto``'s rare-class and group options
    (`labelloop.engine.rounds.groups`).
    """
    # Imported here: the selection layer loads scikit-learn, which the API loads lazily.
    from labelloop.selection import ChunkProposal, select_chunked

    fitted = model_version_id is not None
    measure = uncertainty_measure(project.strategy)
    informative: list[np.ndarray] = []  # each chunk's uncertainty, in item id order
    done = [0]

    def featurised() -> Iterator[tuple[list[int], Any]]:
        for chunk_ids, inputs in item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=False):
            yield chunk_ids, model.featurizer.transform(inputs)

    def on_chunk(chunk: ChunkProposal) -> None:
        chunk_ids = chunk.item_ids.tolist()
        if fitted:
            proba = model.predict_proba(chunk.X)
            informative.append(uncertainty(proba, measure=measure, multi_label=project.multi_label))
            write_predictions(pacer, project, model_version_id, chunk_ids, proba, informative[-1])
        done[0] += len(chunk_ids)
        if progress:
            progress("score", done[0], pool_size)

    selected = select_chunked(
        project.strategy,
        model.classifier if fitted else None,
        X_lab,
        y_lab,
        featurised(),
        k,
        state=state,
        classes=list(project.labels),
        random_state=seed,
        on_chunk=on_chunk,
        **(auto_options or {}),
    )
    if selected.item_ids.size == 0:
        return ScoredPool(
            np.zeros(0, np.int64),
            np.zeros(0),
            None,
            None,
            measure,
            [],
            [],
            project.strategy,
            state or {},
        )
    pool_uncertainty = np.concatenate(informative) if fitted else None
    if pool_uncertainty is not None and pool_uncertainty.size != len(selected.item_ids):
        raise RuntimeError("the pool changed size between scoring and selection")
    return ScoredPool(
        item_ids=np.asarray(selected.item_ids, dtype=np.int64),
        scores=np.asarray(selected.scores, dtype=np.float64),
        uncertainty=pool_uncertainty,
        max_uncertainty=(
            float(pool_uncertainty.max())
            if pool_uncertainty is not None and pool_uncertainty.size
            else None
        ),
        measure=measure,
        batch_ids=[int(i) for i in selected.batch_ids],
        reasons=list(selected.reasons),
        strategy=str(selected.strategy),
        state=dict(selected.state),
    )


@dataclass(frozen=True)
class _ProjectMeasure:
    """Run on a Dask worker: a page's probabilities and uncertainty on the project's scale."""

    model: Any
    measure: str
    multi_label: bool

    def __call__(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        proba = self.model.predict_proba(X)
        return proba, uncertainty(proba, measure=self.measure, multi_label=self.multi_label)


def score_pool_on_dask(
    address: str,
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: ProjectModel,
    model_version_id: int | None,
    X_lab: Any,
    y_lab: Any,
    *,
    k: int,
    state: dict[str, Any] | None,
    seed: int,
    pool_size: int,
    progress: Progress | None,
) -> ScoredPool:
    """`score_pool` with the pages scored on the Dask cluster at ``address`` (rule 7)."""
    from labelloop.scale import PartitionResult, select_on_dask

    fitted = model_version_id is not None
    measure = uncertainty_measure(project.strategy)
    done = [0]

    def on_partition(result: PartitionResult) -> None:
        done[0] += result.n_rows
        if progress:
            progress("score", done[0], pool_size)

    selected = select_on_dask(
        address,
        project.strategy,
        model.classifier if fitted else None,
        X_lab,
        y_lab,
        item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=False),
        k,
        state=state,
        classes=list(project.labels),
        random_state=seed,
        featurize=model.featurizer.transform,
        measure=_ProjectMeasure(model, measure, project.multi_label) if fitted else None,
        on_partition=on_partition,
    )
    order = np.argsort(selected.candidate_ids, kind="stable")
    item_ids = np.asarray(selected.candidate_ids, dtype=np.int64)[order]
    pool_uncertainty = None
    if fitted and item_ids.size:
        pool_uncertainty = selected.candidate_informativeness[order]
        write_predictions(
            pacer, project, model_version_id, item_ids.tolist(),
            selected.candidate_proba[order], pool_uncertainty,
        )  # fmt: skip
    return ScoredPool(
        item_ids=item_ids,
        scores=np.asarray(selected.candidate_scores, dtype=np.float64)[order],
        uncertainty=pool_uncertainty,
        max_uncertainty=selected.max_informativeness if fitted else None,
        measure=measure,
        batch_ids=[int(i) for i in selected.batch_ids],
        reasons=list(selected.reasons),
        strategy=str(selected.strategy) if item_ids.size else project.strategy,
        state=dict(selected.state) if item_ids.size else (state or {}),
        cluster={
            "partitions": selected.n_partitions,
            "pool_scored": selected.n_pool,
            "candidates": int(item_ids.size),
            **(
                {
                    "histogram": selected.histogram.tolist(),
                    "edges": np.round(selected.edges, 6).tolist(),
                }
                if fitted
                else {}
            ),
        },
    )


def score_eval_set(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: ProjectModel,
    model_version_id: int,
    previous_id: int | None,
) -> tuple[list[str], list[str]]:
    """Predict the evaluation set chunk by chunk, writing the predictions as it goes.

    Returns the labels the previous model and this one predict for the evaluation items
    both predicted, in the same order (for the stabilising-predictions criterion).
    """
    measure = uncertainty_measure(project.strategy)
    before: list[str] = []
    now: list[str] = []
    for chunk_ids, inputs in item_chunks(pacer.db, project.id, CHUNK_SIZE, is_eval=True):
        proba = model.predict_proba(model.featurizer.transform(inputs))
        informative = uncertainty(proba, measure=measure, multi_label=project.multi_label)
        write_predictions(pacer, project, model_version_id, chunk_ids, proba, informative)
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
    db: Database, project: ProjectSnapshot, model_version_id: int, item_ids: list[int]
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


# --------------------------------------------------------------------------- predictions


def write_predictions(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model_version_id: int,
    item_ids: Sequence[int],
    proba: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Insert one chunk's predictions in paced write transactions (rule 3).

    The JSON is built before any transaction, so a transaction only hands rows to the
    driver's ``executemany``.
    """
    rounded = np.round(proba, 6).tolist()
    texts = [json.dumps(dict(zip(project.labels, row, strict=True))) for row in rounded]
    rows = list(zip(item_ids, texts, np.asarray(scores, dtype=np.float64).tolist(), strict=True))
    created = PredictionRow.__table__.c.created_at.type

    def insert(session: Session, start: int, stop: int) -> None:
        connection = session.connection()
        now = driver_value(connection, created, utcnow())
        insert_many(
            connection,
            "predictions",
            _PREDICTION_COLUMNS,
            [
                (project.id, item_id, model_version_id, text, score, now)
                for item_id, text, score in rows[start:stop]
            ],
        )

    pacer.write(len(rows), insert)


def drop_stale_predictions(db: Database, project_id: int, keep: set[int | None]) -> None:
    """Delete pool predictions of built-in model versions other than ``keep`` (rule 4).

    The predictions of the items a round put in its batch stay. Model versions a killed
    process left behind are cleaned up here too.
    """
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
        picked: dict[int, set[int]] = {}
        for version_id, batch in session.execute(
            select(RoundRow.model_version_id, RoundRow.batch).where(
                RoundRow.project_id == project_id, RoundRow.model_version_id.in_(stale)
            )
        ):
            picked.setdefault(version_id, set()).update(int(i) for i in batch or ())
    for version_id in stale:
        delete_predictions(db, version_id, pool_only=True, keep_items=picked.get(version_id))


def delete_predictions(
    db: Database,
    model_version_id: int,
    *,
    pool_only: bool,
    keep_items: set[int] | None = None,
) -> None:
    """Delete a model version's predictions (of the pool only, or all): rules 4 and 5.

    The predictions of ``keep_items`` stay. Read a page of at most one write
    transaction's rows at a time, deleted paced.
    """
    pacer = WritePacer(db)
    keep_items = keep_items or set()
    conditions = [PredictionRow.model_version_id == model_version_id]
    if pool_only:
        conditions.append(ItemRow.is_eval.is_(False))
    last = 0
    while True:
        with db.read() as session:
            rows = session.execute(
                select(PredictionRow.id, PredictionRow.item_id)
                .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                .where(*conditions, PredictionRow.item_id > last)
                .order_by(PredictionRow.item_id)
                .limit(pacer.max_rows)
            ).all()
        if not rows:
            return
        last = rows[-1].item_id
        ids = [row.id for row in rows if row.item_id not in keep_items]
        if not ids:
            continue

        def remove(session: Session, start: int, stop: int, ids: list[int] = ids) -> None:
            session.execute(delete(PredictionRow).where(PredictionRow.id.in_(ids[start:stop])))

        pacer.write(len(ids), remove)
