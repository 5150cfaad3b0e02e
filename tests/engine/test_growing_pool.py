"""A pool that keeps growing: items imported after a round join the queue's one scale.

The scale is `labelloop.engine.core.priority`'s: unscored items wait under every scored
one, and once the latest round's model scores them they take their place by
informativeness among the items the round scored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_rounds import make_text_project, text_records

from labelloop.engine import jobs, rounds
from labelloop.engine.core.priority import BATCH_BONUS, scored_priorities
from labelloop.engine.ingest import import_items
from labelloop.engine.workspace import Workspace
from labelloop.store.tables import AuditEventRow, ItemRow, JobRow, PredictionRow, TaskRow


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _new_records(n: int) -> list[dict]:
    # Same vocabulary as the project's, under new ids.
    return [dict(r, id=f"new{i}") for i, r in enumerate(text_records(n, n_labelled=0, seed=7))]


def _open_tasks(db) -> list:
    """Open non-eval label tasks: external id, priority, reason, newest prediction."""
    with db.read() as session:
        tasks = session.execute(
            select(ItemRow.id, ItemRow.external_id, TaskRow.priority, TaskRow.reason)
            .join(TaskRow, TaskRow.item_id == ItemRow.id)
            .where(TaskRow.status == "open", TaskRow.is_eval.is_(False))
        ).all()
        newest = {}
        for item_id, score, version_id in session.execute(
            select(
                PredictionRow.item_id, PredictionRow.score, PredictionRow.model_version_id
            ).order_by(PredictionRow.id)
        ):
            newest[item_id] = (score, version_id)
    return [(t.external_id, t.priority, t.reason, newest.get(t.id)) for t in tasks]


def _assert_one_scale(rows) -> None:
    """Outside the batch, a task's priority is its informativeness's: none outranks a
    more informative one, however it was scored."""
    scored = [(p, s[0]) for _, p, _, s in rows if s is not None and p < BATCH_BONUS]
    for p, score in scored:
        assert p == pytest.approx(float(scored_priorities([score])[0]))
    by_priority = sorted(scored, reverse=True)
    scores = [score for _, score in by_priority]
    assert scores == sorted(scores, reverse=True)


def test_items_imported_after_a_round_wait_unscored_then_take_their_place(db):
    project = make_text_project(db, strategy="margin", batch_size=10)
    info = rounds.train(db, actor="cli:lead", project=project)
    report = import_items(db, actor="cli:lead", project=project, records=_new_records(30))
    assert report.scored_by == info.model_version

    rows = _open_tasks(db)
    new = [r for r in rows if r[0].startswith("new")]
    old = [r for r in rows if not r[0].startswith("new")]
    assert new and all(-1 <= p < 0 for _, p, _, _ in new)
    assert all(reason == f"new: waits to be scored by model version {info.model_version}"
               for _, _, reason, _ in new)  # fmt: skip
    # Until scored, no new item outranks any item the model scored.
    assert max(p for _, p, _, _ in new) < min(p for _, p, _, s in old if s is not None)
    with db.read() as session:
        job = session.execute(select(JobRow).where(JobRow.kind == "score_new")).scalar_one()
    assert job.status == "queued"

    done = jobs.run_queued(
        db,
        project_id=report.project_id,
        kind="score_new",
        runners={"score_new": rounds.run_score_new},
    )
    assert done.status == "done" and done.result["n_scored"] == len(new)
    rows = _open_tasks(db)
    new = [r for r in rows if r[0].startswith("new")]
    with db.read() as session:
        version_id = session.execute(
            select(PredictionRow.model_version_id).order_by(PredictionRow.id.desc()).limit(1)
        ).scalar_one()
    assert all(s is not None and s[1] == version_id for _, _, _, s in new)
    assert all(0 <= p < 1 and reason is None for _, p, reason, _ in new)
    _assert_one_scale(rows)
    # The round's batch keeps the top of the queue.
    assert sorted(p for _, p, _, _ in rows)[-10:] == sorted(
        p for _, p, _, _ in rows if p > BATCH_BONUS
    )
    with db.read() as session:
        event = session.execute(
            select(AuditEventRow).where(AuditEventRow.action == "items.scored")
        ).scalar_one()
    assert event.after == {"model_version": info.model_version, "scored": len(new)}


def test_scoring_leaves_items_a_newer_round_placed(db):
    project = make_text_project(db, strategy="margin")
    rounds.train(db, actor="cli:lead", project=project)
    import_items(db, actor="cli:lead", project=project, records=_new_records(12))
    second = rounds.train(db, actor="cli:lead", project=project)  # scores them itself
    before = _open_tasks(db)
    scored = rounds.score_new_items(db, project=project, actor="cli:lead")
    assert scored.n_scored == 0 and scored.model_version == second.model_version
    assert _open_tasks(db) == before


def test_nothing_to_score_before_a_round(db):
    project = make_text_project(db, strategy="margin")
    report = import_items(db, actor="cli:lead", project=project, records=_new_records(5))
    assert report.scored_by is None
    with db.read() as session:
        assert session.execute(select(JobRow)).first() is None
    assert rounds.score_new_items(db, project=project, actor="x").n_scored == 0


def test_workspace_scores_new_items_as_it_adds_them(db, tmp_path):
    ws = Workspace(db.url, artifact_dir=db.artifact_dir)
    project = ws.create_project(
        "grow", task_type="classification", labels=["pos", "neg"], strategy="margin"
    )
    project.add_items(text_records(120, n_labelled=40))
    project.train()
    project.add_items(_new_records(20))
    rows = _open_tasks(db)
    assert all(s is not None for name, _, _, s in rows if name.startswith("new"))
    _assert_one_scale(rows)
    with db.read() as session:
        assert (
            session.execute(select(JobRow.status).where(JobRow.kind == "score_new")).scalar_one()
            == "done"
        )
    ws.close()
