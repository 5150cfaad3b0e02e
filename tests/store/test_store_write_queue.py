"""Writers of one process queue on the Database's lock, not on SQLite's busy handler."""

from __future__ import annotations

import threading
import time

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
