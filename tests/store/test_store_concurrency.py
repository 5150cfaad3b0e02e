"""Concurrent writers on one audit chain: from threads and from separate processes."""

from __future__ import annotations

import subprocess
import sys
import threading

from sqlalchemy import select

from labelloop.engine.audit import verify_chain
from labelloop.store.audit import append_event, chain_for
from labelloop.store.tables import AuditEventRow, ProjectRow

N_THREADS = 6
N_PER_THREAD = 15

_WRITER = """
import sys
from labelloop.store.audit import append_event
from labelloop.store.db import Database

url, project_id, writer, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
db = Database(url)
print("ready", flush=True)
sys.stdin.readline()  # start together
for i in range(n):
    with db.transaction() as s:
        append_event(s, project_id=project_id, actor=writer, action="task.leased",
                     target=f"task:{i}")
db.dispose()
"""


def _project(db) -> int:
    with db.transaction() as s:
        row = ProjectRow(name="busy", task_type="classification", labels=["a", "b"])
        s.add(row)
        s.flush()
        return row.id


def _targets_by_actor(db, project_id) -> dict[str, list[str]]:
    with db.read() as s:
        rows = s.execute(
            select(AuditEventRow.actor, AuditEventRow.target)
            .where(AuditEventRow.chain == chain_for(project_id))
            .order_by(AuditEventRow.seq)
        ).all()
    found: dict[str, list[str]] = {}
    for actor, target in rows:
        found.setdefault(actor, []).append(target)
    return found


def test_threads_appending_to_one_chain(database):
    # The chain starts empty, so the writers also race to create its head row.
    project_id = _project(database)
    start = threading.Barrier(N_THREADS)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            start.wait()
            for i in range(N_PER_THREAD):
                with database.transaction() as s:
                    append_event(
                        s, project_id=project_id, actor=name, action="task.leased", target=f"{i}"
                    )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = verify_chain(database, project_id)
    assert report.ok, report.message
    assert report.n_events == N_THREADS * N_PER_THREAD
    found = _targets_by_actor(database, project_id)
    # No lost event, and each writer's events in its own order.
    assert found == {f"w{n}": [str(i) for i in range(N_PER_THREAD)] for n in range(N_THREADS)}


def test_two_processes_appending_to_one_chain(database):
    project_id = _project(database)
    n = 25
    other = subprocess.Popen(
        [sys.executable, "-c", _WRITER, database.url, str(project_id), "other", str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()
        for i in range(n):  # this process writes meanwhile
            with database.transaction() as s:
                append_event(
                    s, project_id=project_id, actor="main", action="task.leased", target=f"task:{i}"
                )
        _out, err = other.communicate(timeout=120)
    finally:
        other.kill()
        other.wait()
    assert other.returncode == 0, err
    report = verify_chain(database, project_id)
    assert report.ok, report.message
    assert report.n_events == 2 * n
    found = _targets_by_actor(database, project_id)
    assert found["main"] == found["other"] == [f"task:{i}" for i in range(n)]
