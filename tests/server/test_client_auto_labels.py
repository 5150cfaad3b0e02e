"""The Python client reads auto-labels, the auto-label status and the annotators, over a
real `labelloop serve` on loopback."""

from __future__ import annotations

import random
import shutil

import pytest
from loopback import serving

from labelloop.client import Client
from labelloop.engine import ingest, projects, rounds, users
from labelloop.engine.annotate import record_annotation
from labelloop.exceptions import PermissionDeniedError, ValidationError
from labelloop.store.db import Database


def _auto_labelled_project(db: Database) -> int:
    rng = random.Random(0)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    records = []
    for i in range(400):
        label = "pos" if i % 2 == 0 else "neg"
        record = {"id": f"a{i}", "text": " ".join(rng.choices(words[label], k=4)) + f" w{i}"}
        records.append({**record, "label": label} if i < 260 else record)
    info = projects.create_project(
        db, actor="cli:test", name="auto", task_type="classification", labels=["pos", "neg"],
        settings={"eval_share": 0.4, "eval_min": 0, "auto_label": True,
                  "auto_label_precision": 0.8, "auto_label_risk": 0.1, "retrain_every": 0},
    )  # fmt: skip
    ingest.import_items(db, actor="cli:test", project=info.id, records=records)
    for i in range(6):  # two annotators on a few of the unlabelled items
        for actor in ("ann", "bea"):
            record_annotation(db, actor=actor, project=info.id, external_id=f"a{300 + i}",
                              label="pos" if i % 2 == 0 or actor == "ann" else "neg")  # fmt: skip
    return info.id


def test_client_reads_auto_labels_and_annotators(tmp_path, _sqlite_template) -> None:
    path = tmp_path / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    project = _auto_labelled_project(db)
    trained = rounds.train(db, actor="cli:test", project=project)
    n_auto = trained.metrics["auto_label"]["n_labelled"]
    assert n_auto > 0
    _info, admin = users.create_user(db, actor="cli:test", name="boss", role="admin",
                                     projects=[project])  # fmt: skip
    _info, annotator = users.create_user(db, actor="cli:test", name="cleo", role="annotator",
                                         projects=[project])  # fmt: skip
    try:
        with serving(f"sqlite:///{path}", tmp_path / "serve.log", "--no-worker") as url:
            with Client(url, annotator) as client:
                status = client.auto_label_status(project)
                assert status["enabled"] and not status["paused"]
                assert status["n_auto_labelled"] == n_auto
                assert status["threshold"] == trained.metrics["auto_label"]["threshold"]
                rows = client.auto_labels(project, limit=5)
                assert len(rows) == 5
                assert all(row["confidence"] >= row["threshold"] for row in rows)
                assert all(row["spot_check"] for row in client.auto_labels(
                    project, spot_checks_only=True))  # fmt: skip
                with pytest.raises(ValidationError):
                    client.auto_labels(project, limit=0)
                with pytest.raises(PermissionDeniedError):
                    client.resume_auto_labelling(project)
                shared = client.annotators(project)
                assert shared["n_items_shared"] == 6
                assert {a["name"] for a in shared["annotators"]} >= {"ann", "bea"}
                with pytest.raises(PermissionDeniedError):
                    client.fit_consensus(project)
            with Client(url, admin) as client:
                with pytest.raises(ValidationError) as not_paused:
                    client.resume_auto_labelling(project)
                assert not_paused.value.field == "project"
                assert client.fit_consensus(project)["fitted"]
    finally:
        db.dispose()
