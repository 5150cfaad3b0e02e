"""The labelling path on both databases: SQLite and the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient

from labelloop.engine import users

API = "/api/v1"
N_ANNOTATORS = 8


def test_leasing_and_idempotent_submits(database, tmp_path, world_builder) -> None:
    world = world_builder(database, tmp_path, n_items=24)
    project_id = world.project_id
    names = [f"ann{n}" for n in range(N_ANNOTATORS)]
    tokens = {}
    for name in names:
        _info, tokens[name] = users.create_user(
            database, actor="cli:test", name=name, role="annotator", projects=[project_id]
        )
    leased: dict[str, list[int]] = {}
    statuses: Counter[int] = Counter()
    errors: list[BaseException] = []
    start = threading.Barrier(N_ANNOTATORS)

    def annotate(name: str) -> None:
        mine: list[int] = []
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        try:
            with TestClient(world.client.app) as client:
                start.wait()
                while True:
                    got = client.post(f"{API}/projects/{project_id}/tasks/next", headers=headers)
                    statuses[got.status_code] += 1
                    if got.status_code == 204:
                        break
                    task_id = got.json()["id"]
                    mine.append(task_id)
                    for _attempt in range(2):  # a retry with the same key changes nothing
                        made = client.post(
                            f"{API}/tasks/{task_id}/annotations",
                            json={"label": "pos"},
                            headers={**headers, "Idempotency-Key": f"{name}-{task_id}"},
                        )
                        statuses[made.status_code] += 1
        except BaseException as exc:  # reported from the main thread
            errors.append(exc)
        leased[name] = mine

    threads = [threading.Thread(target=annotate, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    every = [task for tasks in leased.values() for task in tasks]
    assert len(every) == len(set(every)) == 24
    assert statuses[201] == 24 and statuses[200] == 24 + 24  # leases, then retries
    assert set(statuses) <= {200, 201, 204}, statuses
    with world.client:
        project = world.call("admin", "GET", f"{API}/projects/{project_id}").json()
    assert (project["n_labelled"], project["n_open"]) == (24, 0)
