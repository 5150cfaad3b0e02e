"""An entity (``ner``) project through the REST API: create, import spans, label, review."""

from __future__ import annotations

from labelloop.engine.users import add_member

API = "/api/v1"
TEXT = "Ann Lee flew to New York"
PER = {"start": 0, "end": 7, "label": "PER"}
LOC = {"start": 16, "end": 24, "label": "LOC"}


def _entity_project(world, **settings) -> int:
    created = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={
            "name": "tweets",
            "task_type": "ner",
            "labels": ["PER", "LOC"],
            "settings": {"eval_share": 0, "eval_min_labels": 0, "retrain_every": 0, **settings},
        },
    )
    assert created.status_code == 201, created.text
    project = created.json()["id"]
    for who in ("annotator", "reviewer"):
        add_member(world.db, actor="cli:test", project=project, user=who)
    return project


def test_spans_are_imported_and_submitted_through_the_api(world) -> None:
    project = _entity_project(world)
    imported = world.call(
        "admin",
        "POST",
        f"{API}/projects/{project}/items",
        json={"records": [{"id": "a", "text": TEXT}, {"id": "b", "text": "x", "spans": []}]},
    )
    assert imported.status_code in (200, 201), imported.text
    task = world.call("annotator", "POST", f"{API}/projects/{project}/tasks/next").json()
    assert task["item"]["payload"]["text"] == TEXT
    url = f"{API}/tasks/{task['id']}/annotations"
    overlap = world.call(
        "annotator", "POST", url, json={"label": [PER, {"start": 4, "end": 12, "label": "LOC"}]}
    )
    assert overlap.status_code == 422
    body = overlap.json()
    assert body["field"] == "label.1" and "overlap" in body["detail"]
    outside = world.call(
        "annotator", "POST", url, json={"label": [{"start": 0, "end": 99, "label": "PER"}]}
    )
    assert outside.status_code == 422 and outside.json()["field"] == "label.0"
    done = world.call("annotator", "POST", url, json={"label": [LOC, PER]})
    assert done.status_code == 201, done.text
    assert done.json()["final_label"] == [PER, LOC]


def test_a_reviewer_corrects_spans(world) -> None:
    project = _entity_project(world, review_policy="all")
    world.call(
        "admin",
        "POST",
        f"{API}/projects/{project}/items",
        json={"records": [{"id": "a", "text": TEXT}]},
    )
    task = world.call("annotator", "POST", f"{API}/projects/{project}/tasks/next").json()
    world.call("annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": [PER]})
    leased = world.call("reviewer", "POST", f"{API}/projects/{project}/reviews/next")
    assert leased.status_code == 200, leased.text
    review_id = leased.json()["id"]
    corrected = world.call(
        "reviewer",
        "POST",
        f"{API}/reviews/{review_id}",
        json={"verdict": "correct", "label": [PER, LOC]},
    )
    assert corrected.status_code in (200, 201), corrected.text
    assert corrected.json()["final_label"] == [PER, LOC]
