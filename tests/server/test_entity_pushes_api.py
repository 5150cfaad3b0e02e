"""An entity project's client model over a real `labelloop serve` on loopback: spans
pushed with the Python client (good and bad), the model's guess carrying them, agreement
as span F1 and the status's tokens read back."""

from __future__ import annotations

import shutil

import httpx
import pytest
from loopback import serving

from labelloop.client import Client
from labelloop.engine import ingest, projects, users
from labelloop.engine.annotate import record_annotation
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database

TEXTS = {"a": "Ann Lee flew to New York", "b": "Bob stayed in Oslo", "c": "nothing here"}
PER = {"start": 0, "end": 7, "label": "PER"}
LOC = {"start": 16, "end": 24, "label": "LOC"}


def test_a_client_model_pushes_spans(tmp_path, _sqlite_template) -> None:
    path = tmp_path / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    project = projects.create_project(
        db, actor="cli:test", name="tweets", task_type="ner", labels=["PER", "LOC"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "batch_size": 1,
                  "overlap": 2},
    ).id  # fmt: skip
    ingest.import_items(db, actor="cli:test", project=project,
                        records=[{"id": k, "text": t} for k, t in TEXTS.items()])  # fmt: skip
    record_annotation(db, actor="ann", project=project, external_id="a", label=[PER, LOC])
    record_annotation(db, actor="bea", project=project, external_id="a", label=[PER])
    _info, admin = users.create_user(db, actor="cli:test", name="boss", role="admin",
                                     projects=[project])  # fmt: skip
    try:
        with serving(f"sqlite:///{path}", tmp_path / "serve.log", "--no-worker") as url:
            with Client(url, admin) as client:
                [report] = client.push_predictions(project, "tagger-1", [
                    {"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER",
                                                "score": 0.55}]},
                    {"item_id": "c", "spans": [], "score": 0.01},
                ])  # fmt: skip
                assert report["n_predictions"] == 2 and report["batch"] == ["b"]
                with pytest.raises(ValidationError) as raised:
                    client.push_predictions(project, "tagger-1", [
                        {"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER",
                                                    "score": 0.5}]},
                        {"item_id": "c", "spans": [{"start": 5, "end": 40, "label": "LOC",
                                                    "score": 0.5}]},
                    ])  # fmt: skip
                assert raised.value.field == "predictions.1.spans.0"
                assert "'c'" in str(raised.value)
                agreement = client.agreement(project)
                assert agreement["measure"] == "span_f1"
                assert agreement["span_f1"] == pytest.approx(2 / 3, abs=1e-6)
                assert agreement["pairs"][0]["span_f1"] == pytest.approx(2 / 3, abs=1e-6)
                tokens = client.status(project)["tokens"]
                # item a waits on its two annotators' disagreement: b and c are the pool
                assert tokens == {"labelled": 0, "pool": 4 + 2, "budget": None}
            headers = {"Authorization": f"Bearer {admin}"}
            with httpx.Client(base_url=url + "/api/v1", headers=headers, timeout=30) as http:
                item = http.get(f"/projects/{project}/items", params={"q": "Bob"}).json()
                item_id = item["items"][0]["id"]
                guess = http.get(f"/projects/{project}/items/{item_id}/guess")
                assert guess.status_code == 200, guess.text
                assert guess.json()["structure"] == [
                    {"start": 0, "end": 3, "label": "PER", "score": 0.55}
                ]
                probabilities = http.post(f"/projects/{project}/predictions", json={
                    "model_version": "tagger-1",
                    "predictions": [{"item_id": "b", "probabilities": {"PER": 1.0}}],
                })  # fmt: skip
                assert probabilities.status_code == 422
                assert probabilities.json()["field"] == "predictions.0.probabilities"
                for actor in ("ann", "bea"):  # overlap 2: two agreeing labels make it final
                    record_annotation(db, actor=actor, project=project, external_id="b",
                                      label=[{"start": 0, "end": 3, "label": "PER"}])  # fmt: skip
                feed = http.get(f"/projects/{project}/labels")
                assert feed.status_code == 200, feed.text
                assert {"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER"}]} in (
                    feed.json()["labels"]
                )
    finally:
        db.dispose()
