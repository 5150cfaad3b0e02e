"""Review flows over HTTP: accept, reject back to the queue, correct (the correction wins)."""

from __future__ import annotations

import datetime as dt

API = "/api/v1"


def _label_one(world, label: str) -> dict:
    task = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next").json()
    response = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": label}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _review_next(world) -> dict:
    response = world.call("reviewer", "POST", f"{API}/projects/{world.project_id}/reviews/next")
    assert response.status_code == 200, response.text
    return response.json()


def test_review_flows(world) -> None:
    changed = world.call(
        "admin",
        "PATCH",
        f"{API}/projects/{world.project_id}/settings",
        json={"review_policy": "all"},
    )
    assert changed.status_code == 200, changed.text
    assert (
        world.call(
            "reviewer", "POST", f"{API}/projects/{world.project_id}/reviews/next"
        ).status_code
        == 204
    )

    first = _label_one(world, "pos")
    assert first["item_status"] == "in_review"
    review = _review_next(world)
    assert review["item"]["external_id"] == first["item_external_id"]
    assert [a["id"] for a in review["annotations"]] == [first["id"]]
    annotator_try = world.call(
        "annotator", "POST", f"{API}/reviews/{review['id']}", json={"verdict": "accept"}
    )
    assert annotator_try.status_code == 403
    accepted = world.call(
        "reviewer", "POST", f"{API}/reviews/{review['id']}", json={"verdict": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["item_status"], accepted.json()["final_label"]) == ("accepted", "pos")

    second = _label_one(world, "pos")
    review = _review_next(world)
    corrected = world.call(
        "reviewer",
        "POST",
        f"{API}/reviews/{review['id']}",
        json={"verdict": "correct", "label": "neg", "note": "sarcasm"},
    ).json()
    assert corrected["item_external_id"] == second["item_external_id"]
    assert (corrected["final_label"], corrected["item_status"]) == ("neg", "accepted")
    assert corrected["correction_id"] is not None

    third = _label_one(world, "neg")
    review = _review_next(world)
    rejected = world.call(
        "reviewer",
        "POST",
        f"{API}/reviews/{review['id']}",
        json={"verdict": "reject", "note": "read the guidelines"},
    ).json()
    assert rejected["item_status"] == "open"
    assert rejected["item_external_id"] == third["item_external_id"]
    again = world.call(
        "reviewer", "POST", f"{API}/reviews/{review['id']}", json={"verdict": "accept"}
    )
    assert again.status_code == 409

    bad = world.call("reviewer", "POST", f"{API}/reviews/{review['id']}", json={"verdict": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "verdict"


def test_a_review_lease_lasts_the_servers_lease_length(make_world) -> None:
    # The project says 600 s; `serve --lease-seconds 30` holds for review leases too.
    world = make_world(n_items=2, lease_seconds=30)
    changed = world.call(
        "admin",
        "PATCH",
        f"{API}/projects/{world.project_id}/settings",
        json={"review_policy": "all"},
    )
    assert changed.status_code == 200, changed.text
    _label_one(world, "pos")
    before = dt.datetime.now(dt.UTC)
    review = _review_next(world)
    after = dt.datetime.now(dt.UTC)
    expires = dt.datetime.fromisoformat(review["lease_expires_at"])
    # The lease starts somewhere within the call, however long a busy machine makes it.
    lease = dt.timedelta(seconds=30)
    slack = dt.timedelta(seconds=1)
    assert before + lease - slack <= expires <= after + lease + slack
