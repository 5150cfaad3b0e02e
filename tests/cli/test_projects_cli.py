"""The project, import and export commands, through Typer's runner on a real SQLite file."""

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
    return invoke


def test_project_lifecycle(run, tmp_path):
    (tmp_path / "guide.md").write_text("# Guide\nBe kind.\n")
    result = run(
        "project", "create", "rev", "--labels", "pos,neg", "--guidelines", "guide.md",
        "--set", "overlap=2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = run("project", "list", "--json")
    assert json.loads(listed.stdout)["settings"]["overlap"] == 2
    assert run("project", "set", "rev", "review_policy=percent", "review_percent=20").exit_code == 0
    shown = json.loads(run("project", "show", "rev", "--json").stdout)
    assert shown["settings"]["review_policy"] == "percent"
    assert run("project", "guidelines", "rev").stdout == "# Guide\nBe kind.\n"
    (tmp_path / "v2.md").write_text("Version two")
    assert run("project", "guidelines", "rev", "v2.md").exit_code == 0
    assert run("project", "guidelines", "rev", "--version", "1").stdout.startswith("# Guide")
    changed = run("project", "guidelines", "rev", "--changes")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == "- # Guide\n- Be kind.\n+ Version two\n"
    assert "version 1 -> 2: 1 added, 2 removed" in changed.stderr
    missing = run("project", "guidelines", "rev", "--changes", "--since", "7")
    assert missing.exit_code == 2 and "no guideline version 7" in missing.output
    assert run("project", "set", "rev", 'skip_reasons=["blurry"]').exit_code == 0
    shown = json.loads(run("project", "show", "rev", "--json").stdout)
    assert shown["settings"]["skip_reasons"] == ["blurry"]
    bad = run("project", "set", "rev", "colour=red")
    assert bad.exit_code == 2 and "unknown setting 'colour'" in bad.output
    assert run("project", "show", "nope").exit_code == 2


def test_import_export_and_bad_input(run, tmp_path):
    assert run("project", "create", "rev", "--labels", "pos,neg").exit_code == 0
    lines = [{"id": i, "text": f"text {i}", "label": "pos" if i % 2 else None} for i in range(60)]
    lines.append({"id": "dup", "text": "text 3"})
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = run("import", "rev", "in.jsonl")
    assert result.exit_code == 0, result.output
    assert "imported 60 of 61" in result.stderr and "'dup'" in result.stderr
    exported = run("export", "rev", "--format", "jsonl")
    assert exported.exit_code == 0
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(records) == 60 and records[1]["label"] == "pos"
    assert run("export", "rev", "--format", "csv", "--out", "out.csv").exit_code == 0
    assert (tmp_path / "out.csv").read_text().startswith("id,text,label,meta,")
    parquet = run("export", "rev", "--format", "parquet", "--out", "out.parquet")
    assert parquet.exit_code == 0
    streamed = run("export", "rev", "--format", "parquet")
    assert streamed.stdout_bytes == (tmp_path / "out.parquet").read_bytes()

    (tmp_path / "bad.jsonl").write_text('{"id": "n1", "text": "x"}\n{"id": "n2", "label": "pos"}\n')
    bad = run("import", "rev", "bad.jsonl")
    assert bad.exit_code == 2
    assert "bad.jsonl:2, field 'text': missing text" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert json.loads(run("project", "show", "rev", "--json").stdout)["n_items"] == 60
    missing_version = run("export", "rev", "--version", "3")
    assert missing_version.exit_code == 2 and "no dataset version 3" in missing_version.stderr


def test_reimport_with_on_existing(run, tmp_path):
    assert run("project", "create", "rev", "--labels", "pos,neg").exit_code == 0
    first = [{"id": i, "text": f"text {i}", "label": "pos" if i < 3 else None} for i in range(10)]
    (tmp_path / "day1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in first))
    assert run("import", "rev", "day1.jsonl").exit_code == 0
    cumulative = [*first, {"id": 10, "text": "text 10"}]
    cumulative[4] = {"id": 4, "text": "text 4, corrected", "meta": {"source": "b"}}
    (tmp_path / "day2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cumulative))

    refused = run("import", "rev", "day2.jsonl")
    assert refused.exit_code == 2
    assert (
        "day2.jsonl:1, field 'id'" in refused.stderr and "already in the project" in refused.stderr
    )

    skipped = run("import", "rev", "day2.jsonl", "--on-existing", "skip")
    assert skipped.exit_code == 0, skipped.output
    assert "imported 1 of 11 records" in skipped.stderr
    assert "0 updated, 10 skipped (already in the project)" in skipped.stderr

    cumulative.append({"id": 11, "text": "text 11"})
    (tmp_path / "day3.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cumulative))
    updated = run("import", "rev", "day3.jsonl", "--on-existing", "update")
    assert updated.exit_code == 0, updated.output
    assert "imported 1 of 12 records" in updated.stderr
    assert "1 updated, 10 skipped (already in the project)" in updated.stderr
    exported = {r["id"]: r for r in map(json.loads, run("export", "rev").stdout.splitlines())}
    assert exported["4"]["text"] == "text 4, corrected" and exported["4"]["meta"] == {"source": "b"}

    cumulative[0] = {**cumulative[0], "label": "neg"}
    (tmp_path / "relabel.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cumulative))
    relabel = run("import", "rev", "relabel.jsonl", "--on-existing", "update")
    assert relabel.exit_code == 2
    assert "relabel.jsonl:1, field 'label'" in relabel.stderr
    assert "never changes a label" in relabel.stderr
    assert run("export", "rev").stdout.count('"label": "pos"') == 3

    unknown = run("import", "rev", "day3.jsonl", "--on-existing", "merge")
    assert unknown.exit_code == 2 and "unknown on_existing 'merge'" in unknown.stderr


def test_settings_that_can_never_train_are_refused_naming_the_setting(run):
    refused = run("project", "create", "rev", "--labels", "pos,neg", "--strategy", "bald")
    assert refused.exit_code == 2 and "setting 'strategy'" in refused.output
    assert run("project", "create", "rev", "--labels", "pos,neg").exit_code == 0
    svc = run("project", "set", "rev", "model=sklearn.svm:SVC")
    assert svc.exit_code == 2
    assert "model estimator 'sklearn.svm:SVC' gives no predict_proba" in svc.output
    committee = run("project", "set", "rev", "strategy=vote_entropy")
    assert committee.exit_code == 2 and "setting 'strategy'" in committee.output
    shown = json.loads(run("project", "show", "rev", "--json").stdout)
    assert (shown["strategy"], shown["settings"]["model"]) == ("auto", None)


def test_entity_project_imports_and_exports_conll(run, tmp_path):
    created = run("project", "create", "tweets", "--task", "ner", "--labels", "PER,LOC")
    assert created.exit_code == 0, created.output
    (tmp_path / "in.conll").write_text(
        "# id = t1\nAnn\tB-PER\nin\tO\nOslo\tB-LOC\n\n# id = t2\nhello\tO\n", encoding="utf-8"
    )
    result = run("import", "tweets", "in.conll")
    assert result.exit_code == 0, result.output
    exported = run("export", "tweets", "--format", "label_studio")
    assert exported.exit_code == 0, exported.output
    tasks = json.loads(exported.stdout)
    assert tasks[0]["data"] == {"text": "Ann in Oslo", "id": "t1"}
    assert [r["value"]["labels"] for r in tasks[0]["annotations"][0]["result"]] == [
        ["PER"],
        ["LOC"],
    ]
    conll = run("export", "tweets", "--format", "conll", "--out", "out.conll")
    assert conll.exit_code == 0, conll.output
    assert (tmp_path / "out.conll").read_text() == (tmp_path / "in.conll").read_text()
    (tmp_path / "bad.conll").write_text("Ann\tI-PER\n", encoding="utf-8")
    bad = run("import", "tweets", "bad.conll")
    assert bad.exit_code == 2 and "bad.conll:1, field 'tag'" in bad.stderr
