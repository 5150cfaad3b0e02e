"""``labelloop guidelines`` and ``guideline-examples`` on a real SQLite file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.engine import annotate, projects, queue, review, users
from labelloop.store.db import Database

IRONIC = [f"oh brilliant ironic sarcastic sequel number{i}" for i in range(4)]
PLAIN = [f"a warm moving honest film number{i}" for i in range(4)]


def _label_and_correct(url: str) -> None:
    """An annotator says "pos" to everything; a reviewer corrects the ironic ones."""
    db = Database.from_url(url)
    try:
        projects.update_settings(
            db, actor="cli:test", project="rev", changes={"review_policy": "all"}
        )
        for name, role in (("ann", "annotator"), ("rev", "reviewer")):
            users.create_user(db, actor="cli:test", name=name, role=role, projects=["rev"])
        ann, rev = users.get_user(db, "ann"), users.get_user(db, "rev")
        while (task := queue.lease_next_task(db, project_id="rev", user=ann)) is not None:
            annotate.submit_annotation(db, task_id=task.id, user=ann, label="pos")
        while (leased := review.lease_next_review(db, project_id="rev", user=rev)) is not None:
            ironic = leased.item.payload["text"] in IRONIC
            review.submit_review(
                db,
                review_task_id=leased.id,
                user=rev,
                verdict="correct" if ironic else "accept",
                label="neg" if ironic else None,
            )
    finally:
        db.dispose()


def test_guidelines_show_rates_disagreements_and_take_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    url = str(tmp_path / "cli.db")

    def run(*args: str):
        return runner.invoke(app, [*args, "--db", url])

    assert run("init").exit_code == 0
    created = run(
        "project",
        "create",
        "rev",
        "--labels",
        "pos,neg",
        "--set",
        "eval_min=0",
        "--set",
        "eval_share=0",
        "--set",
        "retrain_every=0",
    )
    assert created.exit_code == 0, created.output
    lines = [json.dumps({"id": f"r{i}", "text": t}) for i, t in enumerate(IRONIC + PLAIN)]
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n")
    assert run("import", "rev", "items.jsonl").exit_code == 0
    _label_and_correct(url)

    shown = run("guidelines", "rev", "--clusters", "2")
    assert shown.exit_code == 0, shown.output
    assert "pos -> neg: 4 this week (0 before), mostly in cluster" in shown.stdout
    assert "Mislabelled clusters: 1" in shown.stdout
    assert "4 of 4 items disagreed (100%)" in shown.stdout

    added = run("guideline-examples", "rev", "r0", "r1", "--note", "Irony flips it.")
    assert added.exit_code == 0, added.output
    assert "guideline version 1: 2 examples added (r0 = neg, r1 = neg)" in added.output
    missing = run("guideline-examples", "rev", "nope", "--note", "x")
    assert missing.exit_code != 0 and "has no item 'nope'" in missing.output

    as_json = run("guidelines", "rev", "--json", "--clusters", "2")
    assert as_json.exit_code == 0, as_json.output
    record = json.loads(as_json.stdout)
    v0, v1 = record["versions"]
    # the labels were made before any guidelines: version 0
    assert (v0["version"], v0["n_annotations"], v0["n_corrected"]) == (0, 8, 4)
    assert (v1["version"], v1["n_examples_added"], v1["note"]) == (1, 2, "Irony flips it.")
    assert record["disagreements"]["mislabelled_clusters"][0]["n_flagged"] == 4
