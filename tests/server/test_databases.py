"""The labelling path on both databases: SQLite and the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import text

from labelloop.engine import audit, users
from labelloop.store.db import Database

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


def _terminate_pooled_backends(db: Database) -> list[int]:
    """End the server session of every idle pooled connection of ``db``, as a PostgreSQL
    restart or an administrator's ``pg_terminate_backend`` does; wait until they are gone."""
    held = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
    pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in held]
    for conn in held:
        conn.close()
    other = Database(db.url)
    try:
        with other.read_connection() as conn:
            for pid in pids:
                # The timeout makes it wait until the backend has exited.
                ended = conn.execute(text("SELECT pg_terminate_backend(:p, 30000)"), {"p": pid})
                assert ended.scalar()
    finally:
        other.dispose()
    return pids


def test_requests_after_the_server_ended_every_pooled_session(
    pg_db: Database, tmp_path, world_builder
) -> None:
    world = world_builder(pg_db, tmp_path, n_items=4)
    headers = world.headers("annotator")
    with world.client as client:
        got = client.post(f"{API}/projects/{world.project_id}/tasks/next", headers=headers)
        assert got.status_code == 200, got.text
        task = got.json()
        assert pg_db.engine.pool.checkedin() >= 1
        pids = _terminate_pooled_backends(pg_db)

        # The next submit and lease run on fresh sessions: no request fails.
        sent = client.post(
            f"{API}/tasks/{task['id']}/annotations",
            json={"label": "pos"},
            headers={**headers, "Idempotency-Key": "after-terminate"},
        )
        assert sent.status_code == 201, sent.text
        again = client.post(f"{API}/projects/{world.project_id}/tasks/next", headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["id"] != task["id"]

    with pg_db.read_connection() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() not in pids
        labels = conn.execute(
            text("SELECT label FROM annotations WHERE task_id = :t"), {"t": task["id"]}
        ).scalars()
        assert list(labels) == ["pos"]
    assert audit.verify_chain(pg_db, world.project_id).ok


def test_no_connection_relaxes_the_servers_commit_durability(pg_db: Database) -> None:
    # Reads in autocommit and write transactions share the pool: none may set
    # synchronous_commit for itself (the server's setting holds: on by default, so an
    # acknowledged label survives a crash; the test server turns it off for speed).
    setting = text("SELECT setting, reset_val, source FROM pg_settings WHERE name = :n")
    params = {"n": "synchronous_commit"}
    with pg_db.read_connection() as conn:
        seen = [conn.execute(setting, params).one()]
    with pg_db.write_connection() as conn:
        seen.append(conn.execute(setting, params).one())
    with pg_db.transaction() as session:
        seen.append(session.execute(setting, params).one())
    for value, reset_val, source in seen:
        assert value == reset_val
        assert source not in ("session", "client", "database", "user")
