"""Re-importing through the API: ``on_existing`` in the import's body, its counts in the
report, and refusals that name the record."""

from __future__ import annotations

API = "/api/v1"


def _items(world):
    return f"{API}/projects/{world.project_id}/items"


def test_on_existing_skip_and_update_count_what_they_did(world) -> None:
    cumulative = [
        {"id": "r0", "text": "review number 0, corrected", "meta": {"lang": "en"}},
        {"id": "r1", "text": "review number 1"},
        {"id": "n1", "text": "a new review"},
    ]
    refused = world.call("admin", "POST", _items(world), json={"records": cumulative})
    assert refused.status_code == 422
    assert "already in the project" in refused.json()["detail"]

    skipped = world.call(
        "admin", "POST", _items(world), json={"records": cumulative, "on_existing": "skip"}
    )
    assert skipped.status_code == 201, skipped.text
    report = skipped.json()
    assert (report["n_imported"], report["n_skipped"], report["n_updated"]) == (1, 2, 0)
    assert report["on_existing"] == "skip"

    cumulative.append({"id": "n2", "text": "another new review"})
    updated = world.call(
        "admin", "POST", _items(world), json={"records": cumulative, "on_existing": "update"}
    )
    assert updated.status_code == 201, updated.text
    report = updated.json()
    assert (report["n_imported"], report["n_skipped"], report["n_updated"]) == (1, 2, 1)
    history = world.call("admin", "GET", f"{_items(world)}?q=corrected").json()
    assert [item["external_id"] for item in history["items"]] == ["r0"]


def test_an_update_that_would_change_a_label_is_refused(world) -> None:
    records = [{"id": "r1", "text": "review number 1", "label": "pos"}]
    response = world.call(
        "admin", "POST", _items(world), json={"records": records, "on_existing": "update"}
    )
    assert response.status_code == 422
    body = response.json()
    assert "never changes a label" in body["detail"] and body["field"] == "records.0.label"


def test_an_unknown_mode_is_a_422_naming_the_field(world) -> None:
    response = world.call(
        "admin",
        "POST",
        _items(world),
        json={"records": [{"id": "x", "text": "y"}], "on_existing": "merge"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "on_existing" and "'error', 'skip' or 'update'" in body["detail"]
