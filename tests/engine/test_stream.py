"""Stream mode in the engine: a decision per arrival, the budget held in the database."""

from __future__ import annotations

import math
import threading

import pytest
from sqlalchemy import select
from test_rounds import make_text_project, text_records

from labelloop.engine import rounds, stream
from labelloop.engine.core.priority import ASKED_BONUS, BATCH_BONUS
from labelloop.engine.projects import create_project, update_settings
from labelloop.exceptions import ConflictError, ImportDataError, NotFoundError, ValidationError
from labelloop.store.tables import (
    AuditEventRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    TaskRow,
)


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _arrivals(n: int, start: int = 0) -> list[dict]:
    return [
        dict(r, id=f"s{start + i}", text=f"{r['text']} s{start + i}")
        for i, r in enumerate(text_records(n, n_labelled=0, seed=11))
    ]


def _task(db, external_id: str):
    with db.read() as session:
        return session.execute(
            select(TaskRow)
            .join(ItemRow, ItemRow.id == TaskRow.item_id)
            .where(ItemRow.external_id == external_id)
        ).scalar_one()


def test_each_arrival_is_asked_or_parked_within_the_budget_and_audited(db):
    project = make_text_project(db, strategy="margin", eval_share=0.0)
    trained = rounds.train(db, actor="cli:lead", project=project)
    offers = [
        stream.offer_item(db, project=project, record=r, actor="model:feed") for r in _arrivals(60)
    ]
    for t, offer in enumerate(offers, start=1):
        assert offer.arrivals == t and offer.model_version == trained.model_version
        assert offer.asked <= math.floor(0.1 * t + 1e-9) + 1
        assert offer.informativeness is not None and offer.reason
    asked = [o for o in offers if o.decision == "ask"]
    parked = [o for o in offers if o.decision == "park"]
    assert asked and parked
    for offer in asked:
        task = _task(db, offer.item_id)
        assert task.priority >= ASKED_BONUS and task.reason == f"stream: {offer.reason}"
    for offer in parked:
        assert 0 <= _task(db, offer.item_id).priority < 1
    with db.read() as session:
        events = (
            session.execute(
                select(AuditEventRow.after).where(AuditEventRow.action == "stream.decided")
            )
            .scalars()
            .all()
        )
        n_predictions = len(
            session.execute(
                select(PredictionRow.id)
                .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                .where(ItemRow.external_id.like("s%"))
            ).all()
        )
    assert [e["decision"] for e in events] == [o.decision for o in offers]
    assert n_predictions == 60
    status = stream.stream_status(db, project=project)
    assert (status.arrivals, status.asked) == (60, len(asked))


def test_asked_items_keep_the_top_through_a_round(db):
    project = make_text_project(db, strategy="margin", eval_share=0.0, stream_budget=1.0)
    rounds.train(db, actor="cli:lead", project=project)
    offers = [stream.offer_item(db, project=project, record=r, actor="x") for r in _arrivals(5)]
    asked = [o.item_id for o in offers if o.decision == "ask"]
    assert asked
    rounds.train(db, actor="cli:lead", project=project)
    for item in asked:
        assert _task(db, item).priority >= ASKED_BONUS
    with db.read() as session:
        batch = (
            session.execute(
                select(TaskRow.priority).where(
                    TaskRow.priority > BATCH_BONUS, TaskRow.priority < ASKED_BONUS
                )
            )
            .scalars()
            .all()
        )
    assert batch  # the round's batch sits under them


def test_before_a_model_the_stream_asks_to_start_one(db):
    create_project(
        db, actor="x", name="fresh", task_type="classification", labels=["pos", "neg"],
        settings={"stream_budget": 0.5, "stream_explore": 0.0, "eval_share": 0.0},
    )  # fmt: skip
    offers = [stream.offer_item(db, project="fresh", record=r, actor="x") for r in _arrivals(4)]
    assert [o.decision for o in offers] == ["ask", "ask", "park", "ask"]
    assert offers[0].informativeness is None and offers[0].reason.startswith("no model yet")
    assert -1 <= _task(db, offers[2].item_id).priority < 0


def test_evaluation_draws_are_asked_as_such(db):
    create_project(
        db, actor="x", name="evals", task_type="classification", labels=["pos", "neg"],
        settings={"stream_budget": 1.0, "eval_share": 0.5},
    )  # fmt: skip
    offers = [stream.offer_item(db, project="evals", record=r, actor="x") for r in _arrivals(30)]
    drawn = [o for o in offers if o.is_eval]
    assert 5 < len(drawn) < 25
    assert all(o.decision == "ask" and o.reason.startswith("evaluation set") for o in drawn)
    assert all(_task(db, o.item_id).is_eval for o in drawn)


def test_refusals_name_the_problem_and_write_nothing(db):
    project = make_text_project(db, strategy="margin")
    first = _arrivals(1)[0]
    stream.offer_item(db, project=project, record=first, actor="x")
    with pytest.raises(ConflictError, match="already in the project"):
        stream.offer_item(db, project=project, record=first, actor="x")
    with pytest.raises(ConflictError, match="same content as item 's0'"):
        stream.offer_item(db, project=project, record={**first, "id": "copy"}, actor="x")
    with pytest.raises(ImportDataError) as labelled:
        stream.offer_item(
            db, project=project, record={**first, "id": "l", "label": "pos"}, actor="x"
        )
    assert labelled.value.field == "label"
    with pytest.raises(ImportDataError) as missing:
        stream.offer_item(db, project=project, record={"id": "m"}, actor="x")
    assert missing.value.field == "text"
    create_project(db, actor="x", name="pics", task_type="image", labels=["a", "b"])
    with pytest.raises(ValidationError) as images:
        stream.offer_item(db, project="pics", record={"id": "i"}, actor="x")
    assert images.value.field == "task_type"
    assert stream.stream_status(db, project=project).arrivals == 1
    with pytest.raises(NotFoundError, match="no project 'nowhere'"):
        stream.offer_item(db, project="nowhere", record=_arrivals(2)[1], actor="x")
    with pytest.raises(NotFoundError, match="no project 9999"):
        stream.offer_item(db, project=9999, record=_arrivals(2)[1], actor="x")
    with pytest.raises(ValidationError) as bad_ref:
        stream.offer_item(db, project=2.5, record=_arrivals(2)[1], actor="x")
    assert bad_ref.value.field == "project"
    assert stream.stream_status(db, project=project).arrivals == 1


def test_the_latest_round_that_fitted_a_model_scores_arrivals(db):
    project = make_text_project(db, strategy="margin", eval_share=0.0)
    first = rounds.train(db, actor="cli:lead", project=project)
    second = rounds.train(db, actor="cli:lead", project=project)
    assert second.model_version > first.model_version
    with db.read() as session:
        project_id = session.execute(
            select(ProjectRow.id).where(ProjectRow.name == project)
        ).scalar_one()
    by_id = stream.offer_item(db, project=str(project_id), record=_arrivals(2)[0], actor="x")
    by_name = stream.offer_item(db, project=f" {project} ", record=_arrivals(2)[1], actor="x")
    assert by_id.model_version == by_name.model_version == second.model_version
    with db.read() as session:
        scored_by = session.execute(
            select(ModelVersionRow.version)
            .join(PredictionRow, PredictionRow.model_version_id == ModelVersionRow.id)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .where(ItemRow.external_id == by_name.item_id)
        ).scalar_one()
    assert scored_by == second.model_version


def test_concurrent_arrivals_never_overspend(db):
    project = make_text_project(db, strategy="margin", eval_share=0.0)
    rounds.train(db, actor="cli:lead", project=project)
    update_settings(db, actor="x", project=project, changes={"stream_explore": 0.5})
    records = _arrivals(40)
    errors: list[Exception] = []

    def feed(part: list[dict]) -> None:
        try:
            for record in part:
                stream.offer_item(db, project=project, record=record, actor="x")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=feed, args=(records[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with db.read() as session:
        events = (
            session.execute(
                select(AuditEventRow.after)
                .where(AuditEventRow.action == "stream.decided")
                .order_by(AuditEventRow.id)
            )
            .scalars()
            .all()
        )
    assert [e["arrival"] for e in events] == list(range(1, 41))
    for e in events:
        assert e["asked"] <= math.floor(0.1 * e["arrival"] + 1e-9) + 1


# An offer with a model (auto-labelling off), counted at the driver: before the
# transaction, the project with the model that ranks the pool, one statement (in its own
# BEGIN and ROLLBACK on SQLite; in autocommit on PostgreSQL); then BEGIN, the state with
# both duplicate look-ups (state and look-ups apart on PostgreSQL, with the row's
# creation), item, task, prediction, state update, the audit event (head read, event
# insert, head update; one statement on PostgreSQL) and COMMIT (not a cursor statement
# on PostgreSQL, nor its BEGIN).
MAX_OFFER_STATEMENTS = {"sqlite": 13, "postgresql": 9}


def test_an_offer_stays_within_its_statement_budget(db):
    from driver_statements import driver_statements

    project = make_text_project(db, strategy="margin", eval_share=0.0)
    rounds.train(db, actor="cli:lead", project=project)
    arrivals = _arrivals(6)
    stream.offer_item(db, project=project, record=arrivals[0], actor="model:feed")
    for arrival in arrivals[1:]:
        with driver_statements(db) as statements:
            stream.offer_item(db, project=project, record=arrival, actor="model:feed")
        assert 0 < len(statements) <= MAX_OFFER_STATEMENTS[db.dialect], statements
