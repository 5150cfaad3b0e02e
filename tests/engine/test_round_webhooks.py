"""A round announces itself to webhooks however it was started: job, CLI or library."""

from __future__ import annotations

import json

from _service_setup import add_labelled_sentiment, make_project
from sqlalchemy import select

from labelloop.engine import rounds, webhooks
from labelloop.store.tables import WebhookDeliveryRow


def test_train_emits_round_completed_and_batch_ready_once(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    project = make_project(database, settings={"eval_share": 0, "batch_size": 4})
    add_labelled_sentiment(database, project)
    webhooks.register_webhook(
        database,
        actor="t",
        project_id=project,
        url="http://127.0.0.1:9/hook",
        events=["round.completed", "batch.ready"],
    )
    trained = rounds.train(database, actor="cli:test", project=project)
    with database.read() as session:
        deliveries = session.execute(
            select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id)
        ).scalars()
        rows = [(row.event, json.loads(row.body)["data"]) for row in deliveries]
    assert sorted(event for event, _data in rows) == ["batch.ready", "round.completed"]
    sent = dict(rows)
    assert sent["round.completed"]["number"] == trained.number == 1
    assert sent["round.completed"]["model_version"] == trained.model_version
    assert "strategy_state" not in sent["round.completed"]["metrics"]
    assert sent["batch.ready"]["batch"] == list(trained.batch) and trained.batch
