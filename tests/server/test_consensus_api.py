"""Annotators' estimated accuracy and a Dawid-Skene fit over HTTP, and on the dashboard."""

from __future__ import annotations

from conftest import World
from fastapi.testclient import TestClient

from labelloop.engine import users
from labelloop.engine.annotate import record_annotation

API = "/api/v1"


def _votes(world: World) -> None:
    for i in range(12):
        truth = "pos" if i % 2 == 0 else "neg"
        wrong = "neg" if truth == "pos" else "pos"
        for actor, label in (
            ("sure", truth),
            ("steady", truth),
            ("sloppy", wrong if i % 3 else truth),
        ):
            record_annotation(world.db, actor=actor, project=world.project_id,
                              external_id=f"r{i}", label=label)  # fmt: skip


def test_annotators_and_a_fit_over_http(world: World) -> None:
    _votes(world)
    path = f"{API}/projects/{world.project_id}/annotators"
    listed = world.call("annotator", "GET", path)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["consensus"] == "majority" and body["n_items_shared"] == 12
    accuracy = {a["name"]: a["estimated_accuracy"] for a in body["annotators"]}
    assert accuracy["sure"] > 0.9 > accuracy["sloppy"]
    assert world.call("outsider", "GET", path).status_code == 404

    fit = f"{API}/projects/{world.project_id}/consensus"
    assert world.call("annotator", "POST", fit).status_code == 403
    changed = world.call("admin", "PATCH", f"{API}/projects/{world.project_id}/settings",
                         json={"consensus": "dawid_skene"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    fitted = world.call("admin", "POST", fit)
    assert fitted.status_code == 200, fitted.text
    assert fitted.json()["fitted"] and fitted.json()["n_items"] == 12
    bad = world.call("admin", "PATCH", f"{API}/projects/{world.project_id}/settings",
                     json={"consensus": "loudest"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "consensus"

    users.set_password(world.db, actor="cli:test", user="admin", password="a long password")
    page_client = TestClient(world.client.app)
    login = page_client.post(
        "/login", data={"name": "admin", "password": "a long password"}, follow_redirects=False
    )
    assert login.status_code == 303, login.text
    page = page_client.get(f"/projects/{world.project_id}").text
    table = page.split("<h2>Annotators</h2>")[1].split("</table>")[0]
    assert "estimated accuracy" in table
