"""Auto-labels from the CLI: switched on by project set, shown by train, status and
auto-labels, resumed with --resume."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.store.db import Database
from labelloop.store.tables import AutoLabelPauseRow, ProjectRow

WORDS = {"pos": ["good", "great", "lovely", "fine"], "neg": ["bad", "awful", "dull", "poor"]}


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db])

    invoke.db = db
    assert invoke("init").exit_code == 0
    return invoke


def test_auto_labels_from_the_cli(run, tmp_path):
    created = run(
        "project", "create", "rev", "--labels", "pos,neg",
        "--set", "eval_share=0.4", "--set", "eval_min=0",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    rng = random.Random(0)
    lines = []
    for i in range(400):
        label = "pos" if i % 2 == 0 else "neg"
        record = {"id": f"r{i}", "text": " ".join(rng.choices(WORDS[label], k=4)) + f" x{i}"}
        if i < 260:
            record["label"] = label
        lines.append(json.dumps(record))
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n")
    assert run("import", "rev", "items.jsonl").exit_code == 0
    changed = run(
        "project", "set", "rev", "auto_label=true", "auto_label_precision=0.8",
        "auto_label_risk=0.1",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output

    trained = run("train", "rev")
    assert trained.exit_code == 0, trained.output
    assert "auto-labels:" in trained.stderr and "threshold" in trained.stderr
    status = run("status", "rev")
    assert status.exit_code == 0, status.output
    assert "auto-labels:" in status.stdout and "auto-labelling items at or above" in status.stdout
    listed = run("auto-labels", "rev", "--limit", "3")
    assert listed.exit_code == 0, listed.output
    assert "confidence" in listed.stdout
    assert sum(line.startswith("│ r") for line in listed.stdout.splitlines()) == 3

    not_paused = run("auto-labels", "rev", "--resume")
    assert not_paused.exit_code != 0 and "not paused" in not_paused.output
    database = Database(f"sqlite:///{run.db}")
    with database.transaction() as session:
        project_id = session.query(ProjectRow.id).scalar()
        session.add(AutoLabelPauseRow(project_id=project_id, reason="spot checks fell short",
                                      checked=4, correct=0, upper=0.6))  # fmt: skip
    database.dispose()
    paused = run("status", "rev")
    assert "paused: spot checks fell short" in paused.stdout
    resumed = run("auto-labels", "rev", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.stderr
    assert "paused" not in run("status", "rev").stdout
