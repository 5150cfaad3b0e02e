"""Every answer says where its time went: ``Server-Timing`` with app, wait, route, cpu."""

from __future__ import annotations

import re

from labelloop.server.app import API_PREFIX as API

_METRIC = re.compile(r"^(app|wait|route|cpu);dur=\d+\.\d{2}$")


def _metrics(response) -> dict[str, float]:
    parts = [part.strip() for part in response.headers["server-timing"].split(",")]
    assert all(_METRIC.match(part) for part in parts), parts
    return {part.split(";")[0]: float(part.split("=")[1]) for part in parts}


def test_every_answer_carries_server_timing(world) -> None:
    leased = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next")
    assert leased.status_code == 200, leased.text
    timing = _metrics(leased)
    assert list(timing) == ["app", "wait", "route", "cpu"]
    # The lease ran in the thread pool: inside the app's time.
    assert 0 < timing["route"] <= timing["app"]
    refused = world.call(None, "POST", f"{API}/projects/{world.project_id}/tasks/next")
    assert refused.status_code == 401
    assert set(_metrics(refused)) == {"app", "wait", "route", "cpu"}


def test_one_hop_routes_answer_access_before_a_bad_body(world) -> None:
    task = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next")
    task_id = task.json()["id"]
    for who, status in ((None, 401), ("annotator", 422)):
        response = world.call(who, "POST", f"{API}/tasks/{task_id}/annotations", json={"x": 1})
        assert response.status_code == status, response.text
    unknown = world.call("annotator", "POST", f"{API}/tasks/999999/annotations", json={"x": 1})
    assert unknown.status_code == 404
