"""Stream mode over the API: ``POST/GET /projects/{p}/stream``."""

from __future__ import annotations

API = "/api/v1"


def _stream(world) -> str:
    return f"{API}/projects/{world.project_id}/stream"


def test_an_offer_answers_its_decision_and_the_budget(world) -> None:
    offered = world.call("model", "POST", _stream(world), json={"id": "s1", "text": "just in"})
    assert offered.status_code == 200, offered.text
    body = offered.json()
    assert body["item_id"] == "s1" and body["decision"] in ("ask", "park")
    assert body["reason"] and body["arrivals"] == 1 and body["asked"] <= body["allowed"]
    assert body["informativeness"] is None  # no round yet
    state = world.call("admin", "GET", _stream(world)).json()
    assert (state["arrivals"], state["asked"]) == (1, body["asked"])


def test_refusals_are_4xx_naming_the_field(world) -> None:
    assert (
        world.call("model", "POST", _stream(world), json={"id": "s1", "text": "x"}).status_code
        == 200
    )
    again = world.call("model", "POST", _stream(world), json={"id": "s1", "text": "y"})
    assert again.status_code == 409 and "already in the project" in again.json()["detail"]
    labelled = world.call(
        "model", "POST", _stream(world), json={"id": "s2", "text": "z", "label": "pos"}
    )
    assert (labelled.status_code, labelled.json()["field"]) == (422, "label")
    missing = world.call("model", "POST", _stream(world), json={"id": "s3"})
    assert (missing.status_code, missing.json()["field"]) == (422, "text")
    not_object = world.call("model", "POST", _stream(world), json=["s4"])
    assert not_object.status_code == 422
    assert (
        world.call("annotator", "POST", _stream(world), json={"id": "s5", "text": "a"}).status_code
        == 403
    )
    assert (
        world.call(None, "POST", _stream(world), json={"id": "s6", "text": "a"}).status_code == 401
    )
    assert world.call("admin", "GET", _stream(world)).json()["arrivals"] == 1


def test_entity_projects_take_offers_and_box_projects_say_why_not(world) -> None:
    made = {}
    for name, task_type, labels in (("ents", "ner", ["PER"]), ("pics", "boxes", ["cat"])):
        created = world.call(
            "admin",
            "POST",
            f"{API}/projects",
            json={"name": name, "task_type": task_type, "labels": labels},
        )
        assert created.status_code == 201, created.text
        made[task_type] = created.json()["id"]
    offered = world.call(
        "admin", "POST", f"{API}/projects/{made['ner']}/stream", json={"id": "e1", "text": "Bo ran"}
    )
    assert offered.status_code == 200, offered.text
    assert offered.json()["decision"] in ("ask", "park")
    spans = world.call(
        "admin",
        "POST",
        f"{API}/projects/{made['ner']}/stream",
        json={"id": "e2", "text": "Bo", "spans": [{"start": 0, "end": 2, "label": "PER"}]},
    )
    assert (spans.status_code, spans.json()["field"]) == (422, "spans")
    boxes = world.call("admin", "POST", f"{API}/projects/{made['boxes']}/stream", json={"id": "i1"})
    assert (boxes.status_code, boxes.json()["field"]) == (422, "task_type")
    assert "no box model" in boxes.json()["detail"]
