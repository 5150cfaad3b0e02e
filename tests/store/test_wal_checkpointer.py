"""The write-ahead log is copied into the database file by a checkpointer thread, not in
the commit of whichever writer crosses ``wal_autocheckpoint`` (`labelloop.store.checkpoint`)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

import pytest

import labelloop.store.checkpoint as checkpoint_module
import labelloop.store.db as db_module
from labelloop.store.db import Database
from labelloop.store.tables import ProjectRow


def _wait_for(condition, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def _add_project(db: Database, name: str) -> None:
    with db.transaction() as session:
        session.add(ProjectRow(name=name, task_type="classification", labels=["a", "b"]))


def _names_in_file_alone(db: Database, tmp_path) -> set[str]:
    """The project names in the database file, without its write-ahead log."""
    copy = tmp_path / "file-alone.db"
    shutil.copyfile(db.engine.url.database, copy)  # the -wal file stays behind
    conn = sqlite3.connect(copy)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM projects")}
    finally:
        conn.close()
        copy.unlink()


def _wal_bytes(db: Database) -> int:
    path = db.engine.url.database + "-wal"
    return os.path.getsize(path) if os.path.exists(path) else 0


def test_writers_checkpoint_by_themselves_only_past_the_safety_bound(sqlite_db):
    with sqlite_db.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert pages == checkpoint_module.SAFETY_PAGES
    assert synchronous == 1  # NORMAL, as before the checkpointer


def test_commits_reach_the_database_file_without_a_writer_checkpointing(sqlite_db, tmp_path):
    checkpointer = sqlite_db._checkpointer
    _add_project(sqlite_db, "first")
    # One commit is far below the writers' bound: only the thread copies it over.
    _wait_for(lambda: checkpointer.passive >= 1, "a background checkpoint")
    _wait_for(lambda: "first" in _names_in_file_alone(sqlite_db, tmp_path), "the row in the file")
    with sqlite_db.read() as session:
        assert session.query(ProjectRow).filter_by(name="first").count() == 1


def test_an_idle_database_gets_its_log_truncated_and_the_thread_ends(sqlite_db, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_AFTER", 0.05)
    monkeypatch.setattr(checkpoint_module, "IDLE_AFTER", 0.3)
    checkpointer = sqlite_db._checkpointer
    _add_project(sqlite_db, "one")
    _wait_for(lambda: checkpointer.truncated >= 1, "the idle truncation")
    _wait_for(lambda: checkpointer._thread is None, "the thread to end")
    assert _wal_bytes(sqlite_db) == 0
    # The next commit starts a thread again, and the row is there.
    _add_project(sqlite_db, "two")
    assert checkpointer._thread is not None
    _wait_for(lambda: checkpointer.truncated >= 2, "the second idle truncation")
    with sqlite_db.read() as session:
        assert {p.name for p in session.query(ProjectRow)} >= {"one", "two"}


def test_dispose_stops_the_thread(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.create_schema()
    _add_project(db, "p")
    thread = db._checkpointer._thread
    assert thread is not None and thread.is_alive()
    db.dispose()
    assert not thread.is_alive()
    _add_project(db, "after")  # a disposed database still writes; it no longer checkpoints
    assert db._checkpointer._thread is thread


def test_the_log_stays_bounded_without_a_checkpointer(tmp_path, monkeypatch):
    # A process whose checkpointer is gone (or behind) is held by the writers' own bound.
    monkeypatch.setattr(db_module, "SAFETY_PAGES", 40)
    db = Database(f"sqlite:///{tmp_path / 'bounded.db'}")
    db.create_schema()
    db._checkpointer.close()
    with db.engine.connect() as conn:
        page = conn.exec_driver_sql("PRAGMA page_size").scalar()
    for i in range(300):
        _add_project(db, f"p{i}")
    # The log restarts once past 40 pages: it never holds much more than that (plus the
    # commit that crossed the bound).
    assert _wal_bytes(db) < 100 * (page + 24)
    with db.read() as session:
        assert session.query(ProjectRow).count() == 300
    db.dispose()


def test_two_databases_on_one_file_checkpoint_in_turn(tmp_path, monkeypatch):
    # Two server processes each run a checkpointer on the same file: one at a time runs,
    # the other finds it busy or nothing left, and no write is lost.
    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_AFTER", 0.01)
    path = tmp_path / "shared.db"
    first = Database(f"sqlite:///{path}")
    first.create_schema()
    second = Database(f"sqlite:///{path}")
    for i in range(40):
        _add_project(first if i % 2 else second, f"p{i}")
    _wait_for(
        lambda: first._checkpointer.passive + second._checkpointer.passive >= 2,
        "checkpoints from both sides",
    )
    first.dispose()
    second.dispose()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM projects").fetchone()[0] == 40
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
