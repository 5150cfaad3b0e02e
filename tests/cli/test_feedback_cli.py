"""``labelloop feedback``: a user's rejected and corrected labels, on a real SQLite file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.engine import annotate, feedback, ingest, projects, queue, review, users
from labelloop.store.db import Database


def test_feedback_lists_a_users_rejections_and_corrections(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "cli.db"
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--db", str(path)])

    assert run("init").exit_code == 0
    db = Database(f"sqlite:///{path}")
    try:
        project = projects.create_project(
            db,
            actor="cli:test",
            name="films",
            task_type="classification",
            labels=["pos", "neg"],
            settings={"eval_share": 0, "retrain_every": 0, "review_policy": "all"},
        )
        records = [{"id": f"f{n}", "text": f"Film {n}"} for n in range(4)]
        ingest.import_items(db, actor="cli:test", project=project.id, records=records)
        ann, _ = users.create_user(
            db,
            actor="cli:test",
            name="ann",
            role="annotator",
            password="pw-ann-123",
            projects=[project.id],
        )
        rev, _ = users.create_user(
            db,
            actor="cli:test",
            name="rev",
            role="reviewer",
            password="pw-rev-123",
            projects=[project.id],
        )
        for verdict, label, note in (
            ("accept", None, None),
            ("reject", None, "sarcasm, read it again"),
            ("correct", "neg", "the last line decides"),
        ):
            task = queue.lease_next_task(db, project_id=project.id, user=ann)
            annotate.submit_annotation(db, task_id=task.id, user=ann, label="pos")
            leased = review.lease_next_review(db, project_id=project.id, user=rev)
            review.submit_review(
                db, review_task_id=leased.id, user=rev, verdict=verdict, label=label, note=note
            )

        table = run("feedback", "films", "--user", "ann")
        assert table.exit_code == 0, table.output
        assert "sarcasm, read it again" in table.stdout and "the last line decides" in table.stdout
        assert "corrected" in table.stdout and "rejected" in table.stdout
        assert "ann: 2 labels rejected or corrected, 2 unread" in table.stderr

        listed = run("feedback", "films", "--user", "ann", "--json")
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(r["verdict"], r["your_label"], r["reviewer_label"]) for r in rows] == [
            ("correct", "pos", "neg"),
            ("reject", "pos", None),
        ]
        assert all(r["reviewer"] == "rev" and r["unread"] for r in rows)
        # Listing marks nothing read: the annotator's own page still counts them unread.
        assert feedback.unread_feedback(db, project="films", user=ann) == 2

        unknown = run("feedback", "films", "--user", "nobody")
        assert unknown.exit_code == 2 and "nobody" in unknown.stderr
        assert run("feedback", "films", "--user", "ann", "--limit", "0").exit_code == 2
    finally:
        db.dispose()
