"""Guidelines that learn, over HTTP: disagreements, examples as a new version, rates."""

from __future__ import annotations

from labelloop.engine import annotate, projects, queue, review, users

API = "/api/v1"


def _corrected(world, *, n_labelled: int = 6, n_corrected: int = 4) -> None:
    """The annotator says "pos" to ``n_labelled`` items; the reviewer corrects the first
    ``n_corrected`` to "neg" and accepts the rest."""
    projects.update_settings(
        world.db, actor="cli:test", project=world.project_id, changes={"review_policy": "all"}
    )
    annotator = users.get_user(world.db, "annotator")
    for _ in range(n_labelled):
        task = queue.lease_next_task(world.db, project_id=world.project_id, user=annotator)
        annotate.submit_annotation(world.db, task_id=task.id, user=annotator, label="pos")
    reviewer = users.get_user(world.db, "reviewer")
    done = 0
    while (
        leased := review.lease_next_review(world.db, project_id=world.project_id, user=reviewer)
    ) is not None:
        if done < n_corrected:
            review.submit_review(
                world.db, review_task_id=leased.id, user=reviewer, verdict="correct", label="neg"
            )
        else:
            review.submit_review(
                world.db, review_task_id=leased.id, user=reviewer, verdict="accept"
            )
        done += 1


def test_disagreements_examples_and_rates(world) -> None:
    _corrected(world)
    path = f"{API}/projects/{world.project_id}/disagreements"
    found = world.call("reviewer", "GET", f"{path}?n_clusters=2")
    assert found.status_code == 200, found.text
    body = found.json()
    (group,) = body["groups"]
    assert (group["given"], group["correct"], group["n_this_week"]) == ("pos", "neg", 4)
    assert group["description"].startswith("pos -> neg: 4 this week (0 before)")
    # The texts differ only in a number: one cluster holds them all.
    assert len(body["clusters"]) == 1 and body["n_disagreements"] == 4
    assert world.call("annotator", "GET", path).status_code == 403
    assert world.call("outsider", "GET", path).status_code == 403  # an annotator elsewhere
    bad = world.call("reviewer", "GET", f"{path}?n_clusters=0")
    assert bad.status_code == 422

    examples = f"{API}/projects/{world.project_id}/guidelines/examples"
    picked = [x["item_id"] for x in group["items"][:2]]
    body = {"item_ids": picked, "note": "Numbered reviews are negative here."}
    assert world.call("reviewer", "POST", examples, json=body).status_code == 403
    wrong = world.call("admin", "POST", examples, json={"item_ids": [10**9], "note": "x"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "item_ids"
    assert "has no item" in wrong.json()["detail"]
    empty = world.call("admin", "POST", examples, json={"item_ids": [], "note": "x"})
    assert empty.status_code == 422
    made = world.call("admin", "POST", examples, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 2
    assert [e["label"] for e in made.json()["examples"]] == ["neg", "neg"]
    shown = world.call("annotator", "GET", f"{API}/projects/{world.project_id}/guidelines")
    assert shown.json()["note"] == "Numbered reviews are negative here."
    assert [e["item_id"] for e in shown.json()["examples"]] == picked

    versions = world.call(
        "reviewer", "GET", f"{API}/projects/{world.project_id}/guidelines/versions"
    )
    assert versions.status_code == 200, versions.text
    listed = versions.json()
    assert listed["current_version"] == 2
    v1, v2 = listed["versions"]
    assert (v1["version"], v1["n_annotations"], v1["n_reviewed"], v1["n_corrected"]) == (
        1,
        6,
        6,
        4,
    )
    assert abs(v1["correction_rate"] - 4 / 6) < 1e-6 and v1["rejection_rate"] == 0.0
    assert (v2["n_examples_added"], v2["n_annotations"], v2["correction_rate"]) == (2, 0, None)
    assert (
        world.call(
            "annotator", "GET", f"{API}/projects/{world.project_id}/guidelines/versions"
        ).status_code
        == 403
    )
