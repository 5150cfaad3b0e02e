"""Rounds write in short transactions: none grows with the pool; a failed round takes all back."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import event, func, select
from test_rounds import ACTOR, make_text_project

from labelloop.engine.annotate import record_annotation
from labelloop.engine.audit import verify_chain
from labelloop.engine.jobs import list_jobs
from labelloop.engine.rounds import list_rounds, query, scoring, train
from labelloop.store import writes
from labelloop.store.tables import (
    AuditEventRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    TaskRow,
)

WRITE = re.compile(r"^\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", re.IGNORECASE)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK_SIZE", 40)
    monkeypatch.setattr(writes, "WRITE_BATCH", 15)


def pool_rows_per_write_transaction(db) -> list[Counter]:
    """Rows each write transaction writes, by table, recorded from the driver's calls."""
    transactions: list[Counter] = []

    def on_begin(conn) -> None:
        if conn.get_execution_options().get("labelloop_write", False):
            conn.info["rows"] = Counter()
            transactions.append(conn.info["rows"])

    def on_execute(conn, _cursor, statement, parameters, _context, executemany) -> None:
        written = WRITE.match(statement)
        if written and "rows" in conn.info:
            conn.info["rows"][written.group(1)] += len(parameters) if executemany else 1

    def on_end(conn) -> None:
        conn.info.pop("rows", None)

    event.listen(db.engine, "begin", on_begin)
    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(db.engine, "commit", on_end)
    event.listen(db.engine, "rollback", on_end)
    return transactions


def counts(db) -> dict[str, int]:
    with db.read() as session:
        actions = Counter(session.execute(select(AuditEventRow.action)).scalars())
        versions = session.execute(select(func.count()).select_from(ModelVersionRow)).scalar()
    return {
        "rounds": len(list_rounds(db, "reviews")),
        "model_versions": versions,
        "model.trained": actions["model.trained"],
        "round.completed": actions["round.completed"],
    }


def test_no_write_transaction_grows_with_the_pool(sqlite_db, small_chunks):
    db = sqlite_db
    project = make_text_project(db)
    train(db, actor=ACTOR, project=project)
    transactions = pool_rows_per_write_transaction(db)
    info = train(db, actor=ACTOR, project=project)
    pool_size = info.metrics["pool_size"]
    written = [t["predictions"] + t["tasks"] for t in transactions]
    # Predictions of the whole pool and eval set, and a priority for every pool task ...
    assert sum(t["predictions"] for t in transactions) > pool_size > 150
    assert sum(t["tasks"] for t in transactions) >= pool_size
    # ... in transactions of at most WRITE_BATCH rows (the batch's: its k tasks, plus
    # the previous batch's k taken off the top).
    assert max(written) <= max(writes.WRITE_BATCH, 2 * len(info.batch))
    assert len(transactions) > 2 * pool_size / writes.WRITE_BATCH


def test_a_round_failing_part_way_takes_back_its_versions_and_the_next_supersedes_it(
    sqlite_db, small_chunks
):
    db = sqlite_db
    project = make_text_project(db)
    first = train(db, actor=ACTOR, project=project)
    writes = []

    def fail_after_two_chunks(stage: str, done: int, total: int) -> None:
        if stage == "write" and done:
            writes.append(done)
            if len(writes) == 2:
                raise RuntimeError("worker stopped")

    with pytest.raises(RuntimeError, match="worker stopped"):
        train(db, actor=ACTOR, project=project, progress=fail_after_two_chunks)
    # The failed round's versions and events are gone; the chain is intact.
    assert counts(db) == {
        "rounds": 1,
        "model_versions": 1,
        "model.trained": 1,
        "round.completed": 1,
    }
    assert verify_chain(db, project).ok
    # The queue is usable meanwhile: valid priorities, the new batch on top in order.
    rows = query(db, project, 500)
    assert all(0 <= r.priority <= 3 for r in rows)
    assert [r.priority for r in rows] == sorted((r.priority for r in rows), reverse=True)
    assert sum(r.priority >= 2 for r in rows) == len(first.batch)

    again = train(db, actor=ACTOR, project=project)
    assert (again.number, again.model_version, again.dataset_version) == (2, 2, 2)
    assert counts(db)["round.completed"] == 2 and verify_chain(db, project).ok
    rows = query(db, project, 15)
    assert [r.external_id for r in rows[:10]] == list(again.batch)
    assert all(r.priority < 1 for r in rows[10:])
    assert all(r.score is not None for r in rows)
    # Stopping compares with the previous round's model, not the failed one.
    assert "stabilizing_predictions" in again.metrics["stopping"]
    with db.read() as session:
        pool_versions = Counter(
            session.execute(
                select(ModelVersionRow.version)
                .join(PredictionRow, PredictionRow.model_version_id == ModelVersionRow.id)
                .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                .where(ItemRow.is_eval.is_(False))
            ).scalars()
        )
        open_pool = session.execute(
            select(func.count())
            .select_from(TaskRow)
            .where(TaskRow.status == "open", TaskRow.is_eval.is_(False))
        ).scalar()
    # The failed version's partial pool predictions are gone; the new one covers the pool.
    assert set(pool_versions) == {1, 2}
    assert pool_versions[2] == open_pool == again.metrics["pool_size"]


def test_labels_given_while_a_round_runs_count_towards_the_next_retrain(sqlite_db):
    db = sqlite_db
    project = make_text_project(db, n=120, retrain_every=2)
    train(db, actor=ACTOR, project=project)
    first, second = (row.external_id for row in query(db, project, 2))
    during = []

    def label_one(stage: str, done: int, total: int) -> None:
        if stage == "write" and not during:
            during.append(
                record_annotation(db, actor="ann", project=project, external_id=first, label="pos")
            )

    train(db, actor=ACTOR, project=project, progress=label_one)
    assert during and not list_jobs(db)
    # The round read its labels before that one came in: it is new to the next round.
    record_annotation(db, actor="ann", project=project, external_id=second, label="neg")
    assert [job.kind for job in list_jobs(db)] == ["retrain"]
