"""`labelloop import/export --format label-studio|hf|parquet` on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labelloop.cli import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db])

    assert invoke("init").exit_code == 0
    for name in ("rev", "copy"):
        assert invoke("project", "create", name, "--labels", "pos,neg").exit_code == 0
    lines = [{"id": i, "text": f"text {i}", "label": "pos" if i % 2 else None} for i in range(6)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert invoke("import", "rev", "in.jsonl").exit_code == 0
    return invoke


def _records(run, project):
    out = run("export", project, "--format", "jsonl")
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize(
    ("fmt", "target"),
    [
        ("label-studio", "tasks.json"),
        ("hf", "saved"),
        ("hf", "d.parquet"),
        ("parquet", "p.parquet"),
    ],
)
def test_export_then_import_gives_the_same_project(run, fmt, target):
    if fmt == "hf":
        pytest.importorskip("datasets", reason="the hf extra is not installed")
    exported = run("export", "rev", "--format", fmt, "--out", target)
    assert exported.exit_code == 0, exported.output
    assert "exported 6 records" in exported.stderr
    imported = run("import", "copy", target, "--format", fmt)
    assert imported.exit_code == 0, imported.output
    assert "imported 6 of 6 records" in imported.stderr
    assert _records(run, "copy") == _records(run, "rev")


def test_label_studio_tasks_go_to_stdout_and_auto_detect(run, tmp_path):
    exported = run("export", "rev", "--format", "label-studio")
    assert exported.exit_code == 0, exported.output
    tasks = json.loads(exported.stdout)
    assert tasks[1]["annotations"][0]["result"][0]["value"] == {"choices": ["pos"]}
    (tmp_path / "t.json").write_text(exported.stdout)
    assert run("import", "copy", "t.json").exit_code == 0
    assert _records(run, "copy") == _records(run, "rev")


def test_bad_input_names_the_place_and_imports_nothing(run, tmp_path):
    task = {"data": {"id": "z", "text": "x"}, "annotations": [{"result": [{"type": "labels"}]}]}
    (tmp_path / "bad.json").write_text(json.dumps([{"data": {"id": "y", "text": "ok"}}, task]))
    bad = run("import", "copy", "bad.json", "--format", "label-studio")
    assert bad.exit_code == 2
    assert "bad.json:2, field 'annotations.0.result.0.type'" in bad.stderr
    assert json.loads(run("project", "show", "copy", "--json").stdout)["n_items"] == 0
    hub = run("import", "copy", "stanfordnlp/imdb", "--format", "hf")
    assert hub.exit_code == 2 and "never fetches one from the Hub" in hub.stderr
    no_out = run("export", "rev", "--format", "hf")
    assert no_out.exit_code == 2 and "give its path" in no_out.stderr
