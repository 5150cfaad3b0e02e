"""The loop end to end through the CLI on one SQLite file: init, import 10k items, label,
train, query, export, audit verify; then a row edited behind the engine's back is caught."""

from __future__ import annotations

import json
import random
import re
import sqlite3

from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.engine.annotate import record_annotation
from labelloop.store.db import Database

N_ITEMS = 10_000
N_IMPORTED_LABELS = 400
TOPICS = {
    "sport": ["match", "goal", "team", "coach", "league", "score"],
    "politics": ["vote", "party", "minister", "law", "election", "senate"],
    "tech": ["chip", "software", "startup", "robot", "cloud", "code"],
}
FILLER = ["the", "a", "today", "new", "big", "report", "says", "after", "week"]


def _write_items(path) -> dict[str, str]:
    rng = random.Random(7)
    truth = {}
    with path.open("w") as out:
        for i in range(N_ITEMS):
            topic = rng.choice(sorted(TOPICS))
            words = rng.choices(TOPICS[topic], k=3) + rng.choices(FILLER, k=4) + [f"n{i}"]
            rng.shuffle(words)
            record = {"id": f"doc-{i}", "text": " ".join(words), "meta": {"source": "wire"}}
            if i < N_IMPORTED_LABELS:
                record["label"] = topic
            truth[record["id"]] = topic
            out.write(json.dumps(record) + "\n")
    return truth


def test_cli_loop_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    db_path = tmp_path / "team.db"
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, [*args, "--db", str(db_path)])
        assert result.exit_code == code, result.output
        return result

    run("init")
    run("project", "create", "news", "--labels", "sport,politics,tech", "--set", "batch_size=25")
    truth = _write_items(tmp_path / "news.jsonl")
    imported = run("import", "news", "news.jsonl")
    assert f"imported {N_ITEMS} of {N_ITEMS}" in imported.stderr

    first = run("train", "news")
    assert "round 1: dataset version 1" in first.stderr and "model version 1" in first.stderr
    queried = run("query", "news", "--n", "25")
    batch = re.findall(r"│\s+\d+\s+│\s+(doc-\d+)\s+│", queried.stdout)
    assert len(batch) == 25

    # Annotators label the batch (here through the engine, as the service does).
    db = Database(f"sqlite:///{db_path}")
    for external_id in batch:
        record_annotation(
            db, actor="annotator-1", project="news", external_id=external_id,
            label=truth[external_id],
        )  # fmt: skip
    db.dispose()
    second = run("train", "news")
    assert "round 2: dataset version 2" in second.stderr
    diff = run("versions", "diff", "news", "1", "2")
    assert "25 added, 0 removed, 0 relabelled" in diff.stdout
    status = run("status", "news")
    assert "10000" in status.stdout and "rounds" in status.stdout

    run("export", "news", "--format", "jsonl", "--labelled-only", "--out", "labels.jsonl")
    exported = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert len(exported) == N_IMPORTED_LABELS + 25
    assert all(record["label"] == truth[record["id"]] for record in exported)

    verified = run("audit", "verify", "news")
    assert "ok" in verified.stderr

    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE audit_events SET actor = 'mallory' "
            "WHERE chain = 'project:1' AND action = 'model.trained'"
        )
    broken = run("audit", "verify", "news", code=1)
    assert "model.trained" in broken.stderr and "edited" in broken.stderr
