"""A round that fails at any step leaves nothing behind: no dataset or model version, no
artifact, no round, no predictions of its model version, no audit event of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from test_rounds import ACTOR, make_text_project

from labelloop.engine import jobs
from labelloop.engine.audit import verify_chain
from labelloop.engine.rounds import list_rounds, project_dir, record, scoring, train, training
from labelloop.exceptions import ValidationError
from labelloop.server import worker
from labelloop.store.tables import (
    AuditEventRow,
    DatasetVersionEntryRow,
    DatasetVersionRow,
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    RoundRow,
)

TABLES = (DatasetVersionRow, DatasetVersionEntryRow, ModelVersionRow, RoundRow, PredictionRow)


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def snapshot(db, project: str) -> dict:
    """What a round writes: row counts, audit actions, and the artifact files."""
    with db.read() as session:
        rows = {
            table.__tablename__: session.execute(
                select(func.count()).select_from(table)
            ).scalar_one()
            for table in TABLES
        }
        actions = list(session.execute(select(AuditEventRow.action).order_by(AuditEventRow.id)))
        project_id = session.execute(select(ProjectRow.id)).scalar_one()
    directory = project_dir(db, project_id)
    files = sorted(p.name for p in directory.iterdir()) if directory.exists() else None
    assert verify_chain(db, project).ok
    return {"rows": rows, "actions": [a for (a,) in actions], "artifacts": files}


def model_version_ids(db) -> set[int]:
    with db.read() as session:
        return set(session.execute(select(ModelVersionRow.id)).scalars())


def assert_next_round_is_whole(db, project: str, number: int) -> None:
    """After the failure the next round trains as if it never happened."""
    again = train(db, actor=ACTOR, project=project)
    assert (again.number, again.dataset_version, again.model_version) == (number,) * 3
    assert [r.number for r in list_rounds(db, project)] == list(range(1, number + 1))


def test_an_estimator_that_cannot_fit_writes_nothing_in_a_first_round(db):
    project = make_text_project(db, model="_failing_estimators:FitFails")
    before = snapshot(db, project)
    assert before["artifacts"] is None
    with pytest.raises(ValidationError, match=r"FitFails' failed to fit \d+ labels") as err:
        train(db, actor=ACTOR, project=project)
    assert err.value.field == "model" and "cannot fit these labels" in str(err.value)
    assert snapshot(db, project) == before


def test_an_estimator_failing_on_the_pool_takes_back_its_eval_predictions(db, monkeypatch):
    project = make_text_project(db, model="_failing_estimators:PoolPredictionFails")
    before = snapshot(db, project)
    written: list[int] = []
    real_write = scoring.write_predictions

    def spy(pacer, project_, model_version_id, item_ids, proba, scores):
        real_write(pacer, project_, model_version_id, item_ids, proba, scores)
        written.append(len(item_ids))

    monkeypatch.setattr(scoring, "write_predictions", spy)
    with pytest.raises(RuntimeError, match="out of memory on the pool"):
        train(db, actor=ACTOR, project=project)
    assert written and sum(written) > 0  # the evaluation set's were written, then taken back
    assert snapshot(db, project) == before


def test_a_strategy_the_model_cannot_serve_writes_nothing(db):
    project = make_text_project(db)
    train(db, actor=ACTOR, project=project)
    # Stored before committee strategies were checked against the model.
    with db.transaction() as session:
        session.execute(update(ProjectRow).values(strategy="vote_entropy"))
    before = snapshot(db, project)
    with pytest.raises(Exception, match="needs a committee"):
        train(db, actor=ACTOR, project=project)
    assert snapshot(db, project) == before
    with db.transaction() as session:
        session.execute(update(ProjectRow).values(strategy="margin"))
    assert_next_round_is_whole(db, project, 2)


@pytest.mark.parametrize(
    ("module", "step"),
    [
        (scoring, "write_predictions"),  # part-way through scoring the pool
        (training, "write_priorities"),  # after the batch went first, before the rest
        (record, "_announce"),  # inside the round's own transaction, rolled back
    ],
)
def test_a_crash_at_any_later_step_takes_back_what_the_round_wrote(db, monkeypatch, module, step):
    project = make_text_project(db)
    train(db, actor=ACTOR, project=project)
    before = snapshot(db, project)
    previous_versions = model_version_ids(db)
    real = getattr(module, step)
    calls = []

    def crash(*args, **kwargs):
        calls.append(step)
        if step == "write_predictions" and len(calls) == 1:
            return real(*args, **kwargs)  # the eval set's are written, the pool's are not
        if step == "write_priorities":
            real(*args, **kwargs)  # every priority written, then the process fails
        raise RuntimeError(f"crash in {step}")

    monkeypatch.setattr(module, step, crash)
    with pytest.raises(RuntimeError, match=f"crash in {step}"):
        train(db, actor=ACTOR, project=project)
    assert snapshot(db, project) == before
    assert model_version_ids(db) == previous_versions
    monkeypatch.setattr(module, step, real)
    assert_next_round_is_whole(db, project, 2)


def test_a_failed_retrain_job_records_its_error_and_leaves_nothing(db):
    project = make_text_project(db, model="_failing_estimators:PoolPredictionFails")
    jobs.enqueue_retrain(db, project_id=project, actor=ACTOR)
    before = snapshot(db, project)
    done = worker.run_next_job(db)
    assert done.status == "failed"
    assert done.error == "RuntimeError: the estimator ran out of memory on the pool"
    after = snapshot(db, project)
    # The job's own outcome is audited; nothing of the round is.
    assert after == {**before, "actions": [*before["actions"], "job.failed"]}


def test_the_artifact_directory_keeps_earlier_versions_when_a_round_fails(db, monkeypatch):
    project = make_text_project(db)
    train(db, actor=ACTOR, project=project)
    before = snapshot(db, project)
    assert before["artifacts"] == ["model-1.skops"]
    monkeypatch.setattr(training, "write_priorities", _raise)
    with pytest.raises(RuntimeError):
        train(db, actor=ACTOR, project=project)
    assert snapshot(db, project)["artifacts"] == ["model-1.skops"]
    assert Path(db.artifact_dir).is_dir()


def _raise(*args, **kwargs):
    raise RuntimeError("stopped")
