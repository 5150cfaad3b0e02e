"""Stream mode's auto-label decision over the API and the CLI (a real SQLite file)."""

from __future__ import annotations

import json
import random

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from labelloop.cli import app as cli_app
from labelloop.engine import users
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.engine.rounds import train
from labelloop.server import ServerSettings, create_app

ACTOR = "cli:tester"
POSITIVE = ["good", "great", "excellent", "lovely", "superb", "fine"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "dull", "horrid"]
AUTO = {"auto_label": True, "auto_label_precision": 0.8, "auto_label_risk": 0.1}


def _reviews(n: int, *, n_labelled: int = 0, prefix: str = "r", k: int = 4) -> list[dict]:
    """Reviews whose label follows their words, the first ``n_labelled`` labelled."""
    rng = random.Random(len(prefix) + k)
    found = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(POSITIVE if label == "pos" else NEGATIVE, k=k) + [f"{prefix}{i}"]
        found.append({"id": f"{prefix}{i}", "text": " ".join(words)})
        if i < n_labelled:
            found[-1]["label"] = label
    return found


def _arrivals(n: int) -> list[dict]:
    return _reviews(n, prefix="a", k=6)


def make_project(db, **settings) -> str:
    create_project(
        db, actor=ACTOR, name="reviews", task_type="classification", labels=["pos", "neg"],
        strategy="margin",
        settings={"batch_size": 10, "eval_share": 0.4, "eval_min": 0, **settings},
    )  # fmt: skip
    import_items(db, actor=ACTOR, project="reviews", records=_reviews(500, n_labelled=300))
    return "reviews"


@pytest.fixture
def trained(sqlite_db):
    # the artifacts beside the SQLite file, where the CLI looks for them
    project = make_project(sqlite_db, **{**AUTO, "stream_explore": 0.0})
    info = train(sqlite_db, actor=ACTOR, project=project)
    assert info.metrics["auto_label"]["threshold"] is not None
    return sqlite_db, project


def test_an_offer_answers_auto_label_with_the_label_and_why(trained, tmp_path) -> None:
    db, project = trained
    member, token = users.create_user(
        db, actor=ACTOR, name="feed", role="model", projects=[project]
    )
    with TestClient(create_app(ServerSettings(media_root=tmp_path), db=db)) as client:
        pid = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).json()
        pid = next(p["id"] for p in (pid["items"] if isinstance(pid, dict) else pid))
        bodies = [
            client.post(
                f"/api/v1/projects/{pid}/stream",
                json=record,
                headers={"Authorization": f"Bearer {token}"},
            )
            for record in _arrivals(10)
        ]
    assert all(b.status_code == 200 for b in bodies), [b.text for b in bodies]
    auto = [b.json() for b in bodies if b.json()["decision"] == "auto-label"]
    assert auto
    for body in auto:
        assert body["label"] in ("pos", "neg")
        assert body["reason"].startswith(f"auto-labelled {body['label']!r}")
        assert "certified in round 1" in body["reason"]
    assert all(b.json()["label"] is None for b in bodies if b.json()["decision"] != "auto-label")


def test_the_cli_counts_auto_labels(trained, tmp_path, monkeypatch) -> None:
    db, project = trained
    monkeypatch.setenv("COLUMNS", "200")
    source = tmp_path / "arrivals.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _arrivals(8)))
    db_path = db.url.removeprefix("sqlite:///")
    result = CliRunner().invoke(
        cli_app, ["stream", "offer", project, str(source), "--json", "--db", db_path]
    )
    assert result.exit_code == 0, result.output
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    n_auto = sum(d["decision"] == "auto-label" for d in decisions)
    assert n_auto and all(d["label"] for d in decisions if d["decision"] == "auto-label")
    assert f"{n_auto} auto-labelled" in result.stderr
