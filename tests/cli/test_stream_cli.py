"""``labelloop stream offer`` and ``stream status`` on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labelloop.cli import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db])

    assert invoke("init").exit_code == 0
    created = invoke(
        "project", "create", "rev", "--labels", "pos,neg",
        "--set", "stream_budget=0.5", "--set", "eval_share=0",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return invoke


def _write(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_offer_decides_each_line_and_status_sums_up(run, tmp_path):
    _write(tmp_path / "s.jsonl", [{"id": f"s{i}", "text": f"arrival {i}"} for i in range(6)])
    offered = run("stream", "offer", "rev", "s.jsonl", "--json")
    assert offered.exit_code == 0, offered.output
    decisions = [json.loads(line) for line in offered.stdout.splitlines()]
    assert [d["item_id"] for d in decisions] == [f"s{i}" for i in range(6)]
    asked = sum(d["decision"] == "ask" for d in decisions)
    assert asked == 4  # floor(0.5 * 6) + 1, no model yet: the cold start asks
    assert f"{asked} asked, 0 auto-labelled, {6 - asked} parked" in offered.stderr
    status = run("stream", "status", "rev")
    assert status.exit_code == 0, status.output
    assert f"6 arrivals, {asked} asked (the budget allows 4)" in status.stderr


def test_a_bad_line_is_named_and_the_lines_before_it_stay(run, tmp_path):
    _write(tmp_path / "bad.jsonl", [{"id": "a", "text": "fine"}, {"id": "b", "label": "pos"}])
    failed = run("stream", "offer", "rev", "bad.jsonl")
    assert failed.exit_code == 2
    assert "bad.jsonl:2" in failed.stderr and "'text'" in failed.stderr
    assert "1 arrivals" in run("stream", "status", "rev").stderr
    _write(tmp_path / "dup.jsonl", [{"id": "a", "text": "again"}])
    duplicate = run("stream", "offer", "rev", "dup.jsonl")
    assert duplicate.exit_code != 0 and "dup.jsonl:1" in duplicate.stderr
