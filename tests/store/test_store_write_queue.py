"""SQLite writers queue on the Database's lock, not on SQLite's busy handler.

Threads of one process queue on a thread lock, processes on a file lock beside the
database.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import event

from labelloop.store.tables import ProjectRow


def test_second_writer_waits_before_it_asks_sqlite_for_the_lock(sqlite_db):
    begins: list[str] = []

    @event.listens_for(sqlite_db.engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            begins.append(threading.current_thread().name)

    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with sqlite_db.transaction() as session:
            session.add(ProjectRow(name="first", task_type="classification", labels=["a"]))
            session.flush()
            first_in.set()
            release.wait(10)

    def second() -> None:
        first_in.wait(10)
        with sqlite_db.transaction() as session:
            session.add(ProjectRow(name="second", task_type="classification", labels=["a"]))

    threads = [
        threading.Thread(target=first, name="w1"),
        threading.Thread(target=second, name="w2"),
    ]
    for thread in threads:
        thread.start()
    first_in.wait(10)
    time.sleep(0.3)  # room for the second writer to reach the database, were it let through
    assert begins == ["w1"], "the second writer polled SQLite's lock instead of queueing"
    release.set()
    for thread in threads:
        thread.join(10)
    assert begins == ["w1", "w2"]
    with sqlite_db.read() as session:
        assert session.query(ProjectRow).count() == 2


_OTHER_PROCESS = """
import sys
from pathlib import Path
from sqlalchemy import event
from labelloop.store.db import Database
from labelloop.store.tables import ProjectRow

db = Database(sys.argv[1])
log = Path(sys.argv[2])

@event.listens_for(db.engine, "before_cursor_execute")
def _log(_conn, _cursor, statement, *_args):
    if statement.startswith("BEGIN IMMEDIATE"):
        log.write_text(log.read_text() + "begin\\n")

log.write_text("ready\\n")
with db.transaction() as session:
    session.add(ProjectRow(name="other", task_type="classification", labels=["a"]))
log.write_text(log.read_text() + "committed\\n")
"""


def test_writers_of_another_process_queue_too(sqlite_db, tmp_path):
    log = tmp_path / "other.log"
    log.write_text("")
    with sqlite_db.transaction() as session:
        session.add(ProjectRow(name="here", task_type="classification", labels=["a"]))
        session.flush()
        other = subprocess.Popen(
            [sys.executable, "-c", _OTHER_PROCESS, sqlite_db.url, str(log)],
        )
        deadline = time.monotonic() + 60
        while "ready" not in log.read_text():
            assert other.poll() is None, "the other process failed to start"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # room for the other writer to reach SQLite, were it let through
        assert log.read_text() == "ready\n", "the other process polled SQLite's lock"
    assert other.wait(60) == 0
    assert log.read_text() == "ready\nbegin\ncommitted\n"
    with sqlite_db.read() as session:
        assert {p.name for p in session.query(ProjectRow)} == {"here", "other"}
    assert Path(str(sqlite_db.url).removeprefix("sqlite:///") + "-writer.lock").exists()
