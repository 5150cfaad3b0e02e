"""The fairness report over the API: ``GET /projects/{p}/fairness``."""

from __future__ import annotations

API = "/api/v1"


def test_the_report_groups_by_the_named_fields(world) -> None:
    p = world.project_id
    records = [
        {
            "id": f"g{i}",
            "text": f"grouped review {i}",
            "meta": {"region": "north" if i % 3 else "south"},
        }
        for i in range(30)
    ]
    assert (
        world.call(
            "admin", "POST", f"{API}/projects/{p}/items", json={"records": records}
        ).status_code
        == 201
    )
    empty = world.call("reviewer", "GET", f"{API}/projects/{p}/fairness").json()
    assert empty["fields"] == [] and "group_fields" in empty["note"]
    changed = world.call(
        "admin", "PATCH", f"{API}/projects/{p}/settings", json={"group_fields": ["region"]}
    )
    assert changed.status_code == 200, changed.text
    report = world.call("reviewer", "GET", f"{API}/projects/{p}/fairness").json()
    [region] = report["fields"]
    groups = {g["group"]: g for g in region["groups"]}
    assert set(groups) == {"north", "south", "(none)"}  # the world's first items have no meta
    assert (groups["north"]["n_pool"], groups["south"]["n_pool"]) == (20, 10)
    other = world.call("admin", "GET", f"{API}/projects/{p}/fairness?field=missing").json()
    assert [g["group"] for g in other["fields"][0]["groups"]] == ["(none)"]


def test_only_reviewers_and_admins_read_it(world) -> None:
    path = f"{API}/projects/{world.project_id}/fairness"
    assert world.call("annotator", "GET", path).status_code == 403
    assert world.call(None, "GET", path).status_code == 401
    bad = world.call("admin", "PATCH", f"{API}/projects/{world.project_id}/settings",
                     json={"group_fields": "region"})  # fmt: skip
    assert (bad.status_code, bad.json()["field"]) == (422, "group_fields")
