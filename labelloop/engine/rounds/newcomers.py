"""Items imported after a round: scored by its model and placed on the queue's scale.

A round ranks the pool it read; items imported later wait, unscored, under every item
a model has scored (`labelloop.engine.core.priority`, rule 4). The ``score_new`` job
their import queued runs `score_new_items`. Rules this module keeps:

1. The model is the latest round's (`priority.ranking_model`), loaded from its
   checked artifact; before a round fitted one there is nothing to do. An entity
   project's items get its entity model's spans and sentence score (`entities`).
2. Only open, non-evaluation label tasks still in the unscored range are scored: a
   round that ran in between has placed them already, with a newer model.
3. They are read, scored and written `scoring.CHUNK_SIZE` items at a time: the
   predictions (filed under that model version, on the project's uncertainty scale)
   and the tasks' priorities by informativeness, in paced write transactions, so
   annotators never wait long on SQLite's write lock. A task a round or a push placed
   meanwhile (out of the unscored range by then) keeps its place.
4. One ``items.scored`` audit event says how many items which model version scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Float, Integer, bindparam, column, select, update, values
from sqlalchemy.orm import Session

from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.core.priority import (
    ranking_model,
    scored_priorities,
    uncertainty,
    uncertainty_measure,
)
from labelloop.engine.core.project import resolve_project
from labelloop.engine.rounds.entities import score_entity_chunk
from labelloop.engine.rounds.inputs import ProjectSnapshot, snapshot_project
from labelloop.engine.rounds.scoring import CHUNK_SIZE, write_predictions
from labelloop.engine.rounds.versions import load_project_model
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, TaskRow, utcnow
from labelloop.store.writes import WritePacer

if TYPE_CHECKING:  # scikit-learn loads on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = ["NewItemsScored", "run_score_new", "score_new_items"]


@dataclass(frozen=True)
class NewItemsScored:
    """What `score_new_items` did: how many items it scored, with which model version."""

    project_id: int
    n_scored: int
    model_version: int | None


def _unscored(session: Session, project_id: int, after: int, limit: int) -> list[tuple]:
    """Rule 2: open non-eval label tasks in the unscored range, by item id after ``after``."""
    return session.execute(
        select(TaskRow.item_id, ItemRow.payload, ItemRow.media_ref)
        .join(ItemRow, ItemRow.id == TaskRow.item_id)
        .where(
            TaskRow.project_id == project_id,
            TaskRow.queue == LABEL_QUEUE,
            TaskRow.status == "open",
            TaskRow.is_eval.is_(False),
            TaskRow.priority < 0,
            TaskRow.item_id > after,
        )
        .order_by(TaskRow.item_id)
        .limit(limit)
    ).all()


def _place(session: Session, dialect: str, project_id: int, rows: list[tuple[int, float]]) -> None:
    """Rule 3: set the priorities of tasks still unscored; (item id, priority) rows."""
    tasks = TaskRow.__table__
    now = utcnow()
    still_unscored = (
        tasks.c.project_id == project_id,
        tasks.c.queue == LABEL_QUEUE,
        tasks.c.status == "open",
        tasks.c.is_eval.is_(False),
        tasks.c.priority < 0,
    )
    if dialect == "postgresql":
        placed = values(column("item_id", Integer), column("priority", Float), name="placed").data(
            rows
        )
        session.execute(
            update(tasks)
            .where(tasks.c.item_id == placed.c.item_id, *still_unscored)
            .values(priority=placed.c.priority, reason=None, updated_at=now)
        )
        return
    session.execute(
        update(tasks)
        .where(tasks.c.item_id == bindparam("b_item"), *still_unscored)
        .values(priority=bindparam("b_priority"), reason=None, updated_at=now),
        [{"b_item": item_id, "b_priority": value} for item_id, value in rows],
    )


def _score_chunk(
    pacer: WritePacer,
    project: ProjectSnapshot,
    model: ProjectModel,
    model_version_id: int,
    rows: list[tuple],
) -> None:
    from labelloop.models.builtin import ItemInput

    item_ids = [row.item_id for row in rows]
    if project.task_type == "ner":
        payloads = [row.payload or {} for row in rows]
        predicted = score_entity_chunk(pacer, project, model, model_version_id, item_ids, payloads)
        informative = predicted.informativeness
    else:
        inputs = [ItemInput(row.payload or {}, row.media_ref) for row in rows]
        proba = model.predict_proba(model.featurizer.transform(inputs))
        informative = uncertainty(
            proba, measure=uncertainty_measure(project.strategy), multi_label=project.multi_label
        )
        write_predictions(pacer, project, model_version_id, item_ids, proba, informative)
    placed = list(zip(item_ids, scored_priorities(informative).tolist(), strict=True))

    def write(session: Session, start: int, stop: int) -> None:
        _place(session, pacer.db.dialect, project.id, placed[start:stop])

    pacer.write(len(placed), write)


def score_new_items(db: Database, *, project: int | str, actor: str) -> NewItemsScored:
    """Score the project's unscored open items with the latest round's model.

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.
    actor : str
        Who asked (audited).

    Returns
    -------
    NewItemsScored
        ``n_scored`` is 0, and the model is not loaded, when nothing waits or no round
        has fitted a model yet.
    """
    with db.read() as session:
        row = resolve_project(session, project)
        snapshot = snapshot_project(row)
        ranked_by = ranking_model(session, row.id)
        waiting = ranked_by is not None and bool(_unscored(session, row.id, 0, 1))
    if not waiting:
        return NewItemsScored(snapshot.id, 0, ranked_by[1] if ranked_by else None)
    model_version_id, version = ranked_by
    _, model = load_project_model(db, snapshot.id, version)
    pacer = WritePacer(db)
    n_scored, after = 0, 0
    while True:
        with db.read() as session:
            rows = _unscored(session, snapshot.id, after, CHUNK_SIZE)
        if not rows:
            break
        _score_chunk(pacer, snapshot, model, model_version_id, rows)
        n_scored += len(rows)
        after = rows[-1].item_id
    with db.transaction() as session:
        append_event(
            session,
            project_id=snapshot.id,
            actor=actor,
            action="items.scored",
            target=f"project:{snapshot.id}",
            after={"model_version": version, "scored": n_scored},
        )
    return NewItemsScored(snapshot.id, n_scored, version)


def run_score_new(db: Database, project_id: int | None, actor: str) -> NewItemsScored:
    """The ``score_new`` job's runner (`labelloop.engine.jobs.JobRunner`'s signature)."""
    if project_id is None:
        raise ValueError("a score_new job belongs to a project")
    return score_new_items(db, project=project_id, actor=actor)
