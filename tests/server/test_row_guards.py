"""Routes that name a task, annotation or review task by id answer 404 to non-members.

The guard runs before the engine and before the body is read: an outsider learns
neither the row's data nor that it exists, and a malformed body changes nothing.
"""

from __future__ import annotations

from labelloop.engine import users

API = "/api/v1"


def _outside_reviewer(world) -> str:
    _info, token = users.create_user(
        world.db,
        actor="cli:test",
        name="outside-reviewer",
        role="reviewer",
        projects=[world.other_project_id],
    )
    return token


def test_rows_of_other_projects_are_not_found(world) -> None:
    world.call(
        "admin",
        "PATCH",
        f"{API}/projects/{world.project_id}/settings",
        json={"review_policy": "all"},
    )
    task = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next").json()
    made = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "pos"}
    ).json()
    review = world.call("reviewer", "POST", f"{API}/projects/{world.project_id}/reviews/next")
    assert review.status_code == 200, review.text
    review_id = review.json()["id"]
    outsider = {"Authorization": f"Bearer {_outside_reviewer(world)}"}
    calls = [
        ("POST", f"{API}/tasks/{task['id']}/annotations", {"label": "pos"}, "task_id"),
        ("POST", f"{API}/tasks/{task['id']}/annotations", {"bad": 1}, "task_id"),
        ("POST", f"{API}/tasks/{task['id']}/skip", {"reason": "r"}, "task_id"),
        ("POST", f"{API}/annotations/{made['id']}/undo", None, "annotation_id"),
        ("POST", f"{API}/annotations/{made['id']}/relabel", None, "annotation_id"),
        ("POST", f"{API}/reviews/{review_id}", {"verdict": "accept"}, "review_task_id"),
    ]
    for method, path, body, field in calls:
        response = world.client.request(method, path, json=body, headers=outsider)
        where = f"{path}: {response.status_code} {response.text}"
        assert response.status_code == 404, where
        assert response.json()["field"] == field, where
        assert "review number" not in response.text and "pos" not in response.text, where
    # Nothing changed: the reviewer of the project still finds the review open.
    accepted = world.call(
        "reviewer", "POST", f"{API}/reviews/{review_id}", json={"verdict": "accept"}
    )
    assert accepted.status_code == 200, accepted.text


def test_unknown_ids_are_not_found_for_admins_too(world) -> None:
    for who in ("admin", "annotator"):
        for path in (
            f"{API}/tasks/999999/annotations",
            f"{API}/tasks/0/skip",
            f"{API}/annotations/abc/undo",
            f"{API}/reviews/{2**62 + 5}",
        ):
            response = world.call(who, "POST", path, json={"label": "pos", "reason": "r"})
            assert response.status_code in (403, 404), (who, path, response.text)
            if who == "admin":
                assert response.status_code == 404, (path, response.text)
