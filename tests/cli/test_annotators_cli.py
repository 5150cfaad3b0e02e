"""``labelloop annotators``: agreement and Dawid-Skene's accuracy per annotator, a new fit."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.engine.annotate import record_annotation
from labelloop.store.db import Database


def test_annotators_lists_accuracy_and_fits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db_path = tmp_path / "cli.db"

    def run(*args: str):
        return runner.invoke(app, [*args, "--db", str(db_path)])

    assert run("init").exit_code == 0
    created = run("project", "create", "rev", "--labels", "pos,neg", "--set", "overlap=2",
                  "--set", "eval_share=0")  # fmt: skip
    assert created.exit_code == 0, created.output
    items = [json.dumps({"id": f"r{i}", "text": f"text {i}"}) for i in range(12)]
    (tmp_path / "items.jsonl").write_text("\n".join(items) + "\n")
    assert run("import", "rev", "items.jsonl").exit_code == 0
    database = Database(f"sqlite:///{db_path}")
    for i in range(12):
        truth = "pos" if i % 2 == 0 else "neg"
        record_annotation(database, actor="sure", project="rev", external_id=f"r{i}", label=truth)
        record_annotation(database, actor="steady", project="rev", external_id=f"r{i}",
                          label=truth)  # fmt: skip
        if i < 6:
            wrong = "neg" if truth == "pos" else "pos"
            record_annotation(database, actor="sloppy", project="rev", external_id=f"r{i}",
                              label=wrong if i % 2 else truth)  # fmt: skip
    database.dispose()

    listed = run("annotators", "rev", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert set(rows) == {"sure", "steady", "sloppy"}
    assert rows["sure"]["estimated_accuracy"] > rows["sloppy"]["estimated_accuracy"]

    assert run("project", "set", "rev", "consensus=dawid_skene").exit_code == 0
    fitted = run("annotators", "rev", "--fit")
    assert fitted.exit_code == 0, fitted.output
    assert "fitted on 12 items" in fitted.output and "consensus: dawid_skene" in fitted.output
    assert "estimated accuracy" in fitted.output

    bad = run("project", "set", "rev", "relabel=sometimes")
    assert bad.exit_code != 0 and "relabel" in bad.output


def test_annotators_of_an_entity_project_show_span_f1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db_path = tmp_path / "cli.db"

    def run(*args: str):
        return runner.invoke(app, [*args, "--db", str(db_path)])

    assert run("init").exit_code == 0
    created = run("project", "create", "tweets", "--task", "ner", "--labels", "PER,LOC",
                  "--set", "overlap=2", "--set", "eval_share=0")  # fmt: skip
    assert created.exit_code == 0, created.output
    (tmp_path / "items.jsonl").write_text(json.dumps({"id": "a", "text": "Ann in Oslo"}) + "\n")
    assert run("import", "tweets", "items.jsonl").exit_code == 0
    database = Database(f"sqlite:///{db_path}")
    per, loc = {"start": 0, "end": 3, "label": "PER"}, {"start": 7, "end": 11, "label": "LOC"}
    record_annotation(database, actor="ann", project="tweets", external_id="a", label=[per, loc])
    record_annotation(database, actor="bea", project="tweets", external_id="a", label=[per])
    database.dispose()

    listed = run("annotators", "tweets", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert rows["ann"]["span_f1"] == rows["bea"]["span_f1"] == 0.666667
    shown = run("annotators", "tweets")
    assert "span F1" in shown.output and "span F1 between annotators: 0.667" in shown.output
