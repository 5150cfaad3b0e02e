"""``labelloop quality``: list suspect labels and rule on one, on a real SQLite file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labelloop.cli import app

FLIPPED = {"r4", "r9"}


def test_quality_lists_and_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--db", str(tmp_path / "cli.db")])

    assert run("init").exit_code == 0
    created = run("project", "create", "rev", "--labels", "pos,neg", "--set", "eval_min=0")
    assert created.exit_code == 0, created.output
    lines = []
    for i in range(60):
        label = "pos" if i % 2 == 0 else "neg"
        words = "wonderful lovely great" if label == "pos" else "awful dreadful boring"
        given = ({"pos": "neg", "neg": "pos"}[label]) if f"r{i}" in FLIPPED else label
        lines.append(json.dumps({"id": f"r{i}", "text": f"{words} {i}", "label": given}))
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n")
    assert run("import", "rev", "items.jsonl").exit_code == 0
    trained = run("train", "rev")
    assert trained.exit_code == 0, trained.output

    listed = run("quality", "rev", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    by_item = {row["item"]: row for row in rows}
    assert set(by_item) >= FLIPPED
    table = run("quality", "rev")
    assert table.exit_code == 0 and "reviewers' precision" in table.output

    suspect = by_item["r4"]
    no_reviewer = run("quality", "rev", "--confirm", str(suspect["id"]))
    assert no_reviewer.exit_code == 2 and "--as" in no_reviewer.output
    assert run("user", "create", "rita", "--role", "reviewer", "--project", "rev").exit_code == 0
    ruled = run("quality", "rev", "--confirm", str(suspect["id"]), "--as", "rita")
    assert ruled.exit_code == 0, ruled.output
    assert "confirmed" in ruled.output
    after = run("quality", "rev", "--json")
    assert "r4" not in {json.loads(line)["item"] for line in after.stdout.splitlines() if line}
    exported = run("export", "rev", "--out", "labels.jsonl")
    assert exported.exit_code == 0, exported.output
    records = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {r["id"]: r for r in records}["r4"]["label"] == "pos"
