"""Retrain jobs: no duplicates, one running per project, recovery after a crash, worker."""

from __future__ import annotations

import time

from _service_setup import add_labelled_sentiment, make_project
from sqlalchemy import select

from labelloop.engine import jobs, webhooks
from labelloop.server import worker
from labelloop.store.tables import JobRow, RoundRow, WebhookDeliveryRow


def test_enqueue_does_not_duplicate_a_queued_retrain(database):
    project = make_project(database)
    first = jobs.enqueue_retrain(database, project_id=project, actor="cli:test")
    again = jobs.enqueue_retrain(database, project_id="reviews", actor="cli:test")
    assert again.id == first.id and first.status == "queued"
    assert [j.id for j in jobs.list_jobs(database, project_id=project)] == [first.id]


def test_a_failing_job_records_its_error(database):
    project = make_project(database)  # no items, no labels: training cannot run
    jobs.enqueue_retrain(database, project_id=project, actor="cli:test")
    done = worker.run_next_job(database)
    assert done.status == "failed" and done.error and done.attempts == 1
    assert worker.run_next_job(database) is None


def test_one_running_job_per_project_and_recovery(database):
    busy = make_project(database, name="busy")
    idle = make_project(database, name="idle")
    with database.transaction() as session:
        session.add(JobRow(project_id=busy, kind="retrain", status="running", attempts=1))
        session.add(JobRow(project_id=busy, kind="retrain", status="queued"))
        session.add(JobRow(project_id=idle, kind="retrain", status="queued"))
    ran = worker.run_next_job(database)
    assert ran.project_id == idle  # the busy project's queued job waits its turn
    assert worker.run_next_job(database) is None
    # A crash left the busy project's job running: recovery queues it again.
    assert jobs.recover_interrupted_jobs(database) == 1
    with database.read() as session:
        statuses = (
            session.execute(
                select(JobRow.status).where(JobRow.project_id == busy).order_by(JobRow.id)
            )
            .scalars()
            .all()
        )
    assert statuses == ["queued", "queued"]
    rerun = worker.run_next_job(database)
    assert rerun.project_id == busy and rerun.attempts == 2


def test_retrain_job_trains_and_announces_the_round(sqlite_db):
    project = make_project(sqlite_db)
    add_labelled_sentiment(sqlite_db, project)
    webhooks.register_webhook(
        sqlite_db,
        actor="t",
        project_id=project,
        url="http://127.0.0.1:9/hook",
        events=["round.completed"],
    )
    jobs.enqueue_retrain(sqlite_db, project_id=project, actor="cli:test")
    background = worker.job_worker(sqlite_db, poll_interval=0.05)
    background.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            [job] = jobs.list_jobs(sqlite_db, project_id=project)
            if job.status in ("done", "failed"):
                break
            time.sleep(0.05)
    finally:
        background.stop()
    assert (job.status, job.error) == ("done", None)
    assert job.result["number"] == 1
    with sqlite_db.read() as session:
        assert session.execute(select(RoundRow.number)).scalars().all() == [1]
        delivery = session.execute(select(WebhookDeliveryRow)).scalar_one()
    assert delivery.event == "round.completed" and delivery.attempts >= 1
