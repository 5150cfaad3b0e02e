"""What the label page asks of the engine and the API beyond labelling: pace and queue
progress, recent labels reopened and changed until reviewed, a flag and a comment with a
label, per-project skip reasons, and what changed between guideline versions."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelloop.engine import annotate, browse, ingest, projects, queue, review, users
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labelloop.server import ServerSettings, create_app
from labelloop.store.tables import AnnotationRow, AuditEventRow

API = "/api/v1"


@pytest.fixture
def team(sqlite_db):
    db = sqlite_db
    project = projects.create_project(
        db,
        actor="cli:test",
        name="films",
        task_type="classification",
        labels=["pos", "neg"],
        guidelines="# Films\n\nLabel the opinion.\nIgnore the plot.",
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "review_policy": "all"},
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=project.id,
        records=[{"id": f"f{n}", "text": f"Film {n}."} for n in range(6)],
    )
    people, tokens = {}, {}
    for name in ("annotator", "reviewer", "other"):
        role = "reviewer" if name == "reviewer" else "annotator"
        people[name], tokens[name] = users.create_user(
            db, actor="cli:test", name=name, role=role, projects=[project.id]
        )
    client = TestClient(create_app(ServerSettings(), db=db))

    def call(who, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return client.request(method, API + path, headers=headers, **kwargs)

    return db, project.id, people, call


def _label(db, project_id, user, label, **kwargs):
    task = queue.lease_next_task(db, project_id=project_id, user=user)
    made, _ = annotate.submit_annotation(db, task_id=task.id, user=user, label=label, **kwargs)
    return made


def test_pace_comes_from_the_annotators_own_labels_of_today(team) -> None:
    db, project_id, people, _ = team
    _label(db, project_id, people["annotator"], "pos", time_spent_ms=30_000)
    _label(db, project_id, people["annotator"], "neg", time_spent_ms=60_000)
    _label(db, project_id, people["other"], "neg", time_spent_ms=1_000)
    mine = browse.annotator_progress(db, project_id=project_id, user_id=people["annotator"].id)
    assert mine.seconds_today == 90.0
    assert mine.labels_per_hour == 80.0  # 2 labels in 90 s
    assert (mine.queue_done, mine.queue_total) == (3, 6)
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    later = browse.annotator_progress(
        db, project_id=project_id, user_id=people["annotator"].id, now=tomorrow
    )
    assert (later.done_today, later.seconds_today, later.labels_per_hour) == (0, 0.0, None)


def test_flag_and_comment_are_stored_with_the_label_and_shown_to_reviewers(team) -> None:
    db, project_id, people, call = team
    task = call("annotator", "POST", f"/projects/{project_id}/tasks/next").json()
    made = call(
        "annotator",
        "POST",
        f"/tasks/{task['id']}/annotations",
        json={"label": "pos", "unsure": True, "comment": "  sarcasm?  "},
    )
    assert made.status_code == 201, made.text
    assert (made.json()["unsure"], made.json()["comment"]) == (True, "sarcasm?")
    reviewing = call("reviewer", "POST", f"/projects/{project_id}/reviews/next")
    assert reviewing.status_code == 200, reviewing.text
    [seen] = reviewing.json()["annotations"]
    assert (seen["unsure"], seen["comment"]) == (True, "sarcasm?")
    history = browse.item_history(db, project_id=project_id, item_id=task["item"]["id"])
    assert (history.annotations[0].unsure, history.annotations[0].comment) == (True, "sarcasm?")
    too_long = call(
        "annotator",
        "POST",
        f"/tasks/{task['id']}/annotations",
        json={"label": "pos", "comment": "x" * 2001},
    )
    assert too_long.status_code == 422
    with pytest.raises(ValidationError, match="unsure"):
        annotate.submit_annotation(
            db, task_id=task["id"], user=people["annotator"], label="pos", unsure="yes"
        )


def test_a_label_changes_until_a_reviewer_judges_it_then_is_refused_in_words(team) -> None:
    db, project_id, people, call = team
    first = _label(db, project_id, people["annotator"], "pos")
    second = _label(db, project_id, people["annotator"], "neg")
    recent = call("annotator", "GET", f"/projects/{project_id}/annotations/mine").json()
    assert [entry["annotation_id"] for entry in recent] == [second.id, first.id]
    assert all(entry["changeable"] for entry in recent)

    changed = call(
        "annotator",
        "PATCH",
        f"/annotations/{first.id}",
        json={"label": "neg", "unsure": True, "comment": "changed my mind"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["label"], changed.json()["final_label"]) == ("neg", "neg")
    with db.read() as session:
        event = session.execute(
            select(AuditEventRow).where(AuditEventRow.action == "annotation.changed")
        ).scalar_one()
        assert (event.actor, event.before["label"], event.after["label"]) == (
            "annotator",
            "pos",
            "neg",
        )

    # Somebody else's label, a label outside the schema: refused, nothing written.
    assert (
        call("other", "PATCH", f"/annotations/{first.id}", json={"label": "pos"}).status_code == 403
    )
    bad = call("annotator", "PATCH", f"/annotations/{first.id}", json={"label": "maybe"})
    assert bad.status_code == 422 and bad.json()["field"] == "label"

    # A reviewer judges the first one: it is final now.
    task = review.lease_next_review(db, project_id=project_id, user=people["reviewer"])
    review.submit_review(db, review_task_id=task.id, user=people["reviewer"], verdict="accept")
    refused = call("annotator", "PATCH", f"/annotations/{first.id}", json={"label": "pos"})
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert f"a reviewer has already judged your label of item {first.item_external_id!r}" in detail
    with db.read() as session:
        assert session.get(AnnotationRow, first.id).label == "neg"
    recent = call("annotator", "GET", f"/projects/{project_id}/annotations/mine").json()
    assert {entry["annotation_id"]: entry["changeable"] for entry in recent} == {
        second.id: True,
        first.id: False,
    }
    with pytest.raises(NotFoundError):
        annotate.change_annotation(db, annotation_id=10**6, user=people["annotator"], label="pos")
    with pytest.raises(PermissionDeniedError):
        annotate.change_annotation(db, annotation_id=second.id, user=people["other"], label="pos")
    annotate.undo_annotation(db, annotation_id=second.id, user=people["annotator"])
    with pytest.raises(ConflictError, match="undone"):
        annotate.change_annotation(
            db, annotation_id=second.id, user=people["annotator"], label="pos"
        )


def test_skip_reasons_are_a_project_setting(team) -> None:
    db, project_id, _, call = team
    info = projects.get_project_info(db, project_id)
    assert info.settings["skip_reasons"] == ["ambiguous", "cannot see", "not in schema"]
    projects.update_settings(
        db, actor="cli:test", project=project_id, changes={"skip_reasons": ["blurry", " sarcasm "]}
    )
    assert projects.get_project_info(db, project_id).settings["skip_reasons"] == [
        "blurry",
        "sarcasm",
    ]
    for wrong in ("blurry", ["x"] * 10, [""], [3]):
        with pytest.raises(ValidationError, match="skip_reasons"):
            projects.update_settings(
                db, actor="cli:test", project=project_id, changes={"skip_reasons": wrong}
            )


def test_what_changed_between_guideline_versions(team) -> None:
    db, project_id, people, call = team
    projects.set_guidelines(
        db,
        actor="cli:test",
        project=project_id,
        text="# Films\n\nLabel the opinion.\nSarcasm counts as neg.",
    )
    changes = projects.guideline_changes(db, project_id)
    assert (changes.old, changes.new, changes.added, changes.removed) == (1, 2, 1, 1)
    assert [(line.op, line.text) for line in changes.lines] == [
        ("same", "# Films"),
        ("same", ""),
        ("same", "Label the opinion."),
        ("removed", "Ignore the plot."),
        ("added", "Sarcasm counts as neg."),
    ]
    first = call("annotator", "GET", f"/projects/{project_id}/guidelines/changes?old=0&new=1")
    assert first.status_code == 200
    assert {line["op"] for line in first.json()["lines"]} == {"added"}
    missing = call("annotator", "GET", f"/projects/{project_id}/guidelines/changes?new=9")
    assert missing.status_code == 404 and "no guideline version 9" in missing.json()["detail"]
