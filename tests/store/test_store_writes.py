"""Bulk writes: rows reach the driver in batches, and a paced write commits in slices."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select, text

from labelloop.exceptions import ValidationError
from labelloop.store import writes
from labelloop.store.tables import ApiTokenRow, UserRow, utcnow
from labelloop.store.writes import (
    BulkWriter,
    WritePacer,
    driver_value,
    insert_batched,
    insert_many,
)


def _statements(db) -> list[tuple[str, int]]:
    """(statement, rows) of every INSERT the engine sends, recorded from the driver's calls."""
    seen: list[tuple[str, int]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append((statement, len(parameters) if executemany else 1))

    event.listen(db.engine, "before_cursor_execute", record)
    return seen


def _names(db) -> list[str]:
    with db.read() as session:
        return list(session.execute(select(UserRow.name).order_by(UserRow.name)).scalars())


def test_pacer_writes_every_slice_once_in_its_own_transaction(database):
    pacer = WritePacer(database, max_rows=7)
    slices: list[tuple[int, int]] = []
    done: list[int] = []

    def write(session, start: int, stop: int) -> None:
        slices.append((start, stop))
        session.execute(
            UserRow.__table__.insert(),
            [{"name": f"u{i:03d}", "role": "annotator"} for i in range(start, stop)],
        )

    pacer.write(40, write, done.append)
    assert slices[0][0] == 0 and slices[-1][1] == 40
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:], strict=False))
    assert all(0 < stop - start <= 7 for start, stop in slices)
    assert done == [stop for _, stop in slices]
    assert _names(database) == [f"u{i:03d}" for i in range(40)]


def test_a_paced_write_failing_keeps_the_slices_already_committed(sqlite_db):
    pacer = WritePacer(sqlite_db, max_rows=5)

    def write(session, start: int, stop: int) -> None:
        session.execute(
            UserRow.__table__.insert(),
            [{"name": f"u{i:03d}", "role": "annotator"} for i in range(start, stop)],
        )
        if stop > 5:
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        pacer.write(20, write)
    assert _names(sqlite_db) == [f"u{i:03d}" for i in range(5)]


@pytest.mark.parametrize("max_rows", [0, -3, 2.5, True, "10"])
def test_pacer_rejects_a_bad_slice_bound(sqlite_db, max_rows):
    with pytest.raises(ValidationError, match="max_rows"):
        WritePacer(sqlite_db, max_rows=max_rows)


def test_pacer_defaults_to_the_store_bound_read_when_made(sqlite_db, monkeypatch):
    monkeypatch.setattr(writes, "WRITE_BATCH", 15)
    assert WritePacer(sqlite_db).max_rows == 15


def test_insert_batched_sends_at_most_write_batch_rows_a_statement(database, monkeypatch):
    monkeypatch.setattr(writes, "WRITE_BATCH", 4)
    sent = _statements(database)
    with database.transaction() as session:
        insert_batched(
            session,
            UserRow.__table__,
            [{"name": f"u{i:02d}", "role": "reviewer"} for i in range(10)],
        )
    assert [rows for _, rows in sent] == [4, 4, 2]
    assert _names(database) == [f"u{i:02d}" for i in range(10)]


def test_insert_many_takes_driver_values_and_reads_back_aware(database):
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with database.transaction() as session:
        connection = session.connection()
        stamp = driver_value(connection, UserRow.__table__.c.created_at.type, moment)
        insert_many(
            connection,
            "users",
            ("name", "role", "is_active", "created_at"),
            [("ann", "annotator", True, stamp), ("rev", "reviewer", False, stamp)],
        )
        insert_many(connection, "users", ("name", "role"), [])
    with database.read() as session:
        rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars().all()
    assert [(r.name, r.role, r.is_active, r.created_at) for r in rows] == [
        ("ann", "annotator", True, moment),
        ("rev", "reviewer", False, moment),
    ]


def test_bulk_writer_flushes_parents_first_and_restores_the_page_cache(database):
    before = utcnow()
    with database.transaction() as session:
        writer = BulkWriter(
            session,
            {
                "users": ("id", "name", "role", "is_active", "created_at"),
                "api_tokens": ("user_id", "digest", "name", "created_at"),
            },
            sqlite_cache_kib=64 * 1024,
        )
        users, tokens = writer.rows["users"], writer.rows["api_tokens"]
        for i in range(1, 4):
            # A token appended before its user: the flush still writes users first.
            tokens.append((1000 + i, f"{i:064d}", "ci", writer.now))
            users.append((1000 + i, f"u{i}", "model", True, writer.now))
        writer.flush()
        assert writer.rows == {"users": [], "api_tokens": []}
        tokens.append((1001, "f" * 64, "second", writer.now))
        writer.close()
        if database.dialect == "sqlite":
            cache = session.connection().execute(text("PRAGMA cache_size")).scalar_one()
            assert cache == -2000
    with database.read() as session:
        users = session.execute(select(UserRow).where(UserRow.id > 1000)).scalars().all()
        n_tokens = len(session.execute(select(ApiTokenRow.id)).all())
    assert sorted(u.name for u in users) == ["u1", "u2", "u3"]
    assert n_tokens == 4
    assert all(before <= u.created_at <= utcnow() for u in users)
