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


def test_items_added_after_a_round_are_scored_by_the_queued_job(world) -> None:
    from labelloop.engine.rounds import train
    from labelloop.server.worker import run_next_job

    words = {"pos": "good great lovely", "neg": "bad awful dull"}
    labelled = [
        {"id": f"l{i}", "text": f"{words[label]} {i}", "label": label}
        for i, label in enumerate(["pos", "neg"] * 10)
    ]
    assert world.call("admin", "POST", _items(world), json={"records": labelled}).status_code == 201
    round_ = train(world.db, actor="cli:test", project=world.project_id)
    late = [{"id": f"late{i}", "text": f"{words['pos']} late {i}"} for i in range(5)]
    response = world.call("admin", "POST", _items(world), json={"records": late})
    assert response.status_code == 201, response.text
    assert response.json()["scored_by"] == round_.model_version
    jobs = world.call("admin", "GET", f"/api/v1/projects/{world.project_id}/jobs").json()
    assert [j["kind"] for j in jobs if j["status"] == "queued"] == ["score_new"]

    done = run_next_job(world.db)
    assert done.kind == "score_new" and done.status == "done"
    assert done.result["n_scored"] == 5
    from sqlalchemy import select

    from labelloop.store.tables import ItemRow, PredictionRow, TaskRow

    with world.db.read() as session:
        placed = session.execute(
            select(TaskRow.priority, PredictionRow.model_version_id)
            .join(ItemRow, ItemRow.id == TaskRow.item_id)
            .join(PredictionRow, PredictionRow.item_id == ItemRow.id)
            .where(ItemRow.external_id.like("late%"))
        ).all()
    assert len(placed) == 5 and all(0 <= p < 1 for p, _ in placed)
