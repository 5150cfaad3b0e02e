"""Connections to PostgreSQL: dead pooled connections are replaced before use without a
ping per checkout, and single-statement reads run outside a transaction."""

from __future__ import annotations

from sqlalchemy import text

from labelloop.engine import users
from labelloop.store.db import Database


def _backend_pid(db: Database) -> int:
    with db.read_connection() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pg_db: Database, pid: int) -> None:
    other = Database(pg_db.url)
    try:
        with other.read_connection() as conn:
            # With a timeout, pg_terminate_backend waits until the backend has exited
            # (a DO loop over pg_stat_activity would not: the view is one snapshot per
            # transaction, so such a loop can wait forever).
            ended = conn.execute(
                text("SELECT pg_terminate_backend(:pid, 30000)"), {"pid": pid}
            ).scalar()
            assert ended
    finally:
        other.dispose()


def test_a_terminated_pooled_connection_is_replaced_before_use(pg_db: Database) -> None:
    pid = _backend_pid(pg_db)
    assert pg_db.engine.pool.checkedin() == 1  # the next checkout gets this one back
    _terminate(pg_db, pid)

    # Reads and writes both go on as if nothing happened, on a new server session.
    assert _backend_pid(pg_db) != pid
    _terminate(pg_db, _backend_pid(pg_db))
    _info, token = users.create_user(pg_db, actor="t", name="ann", role="annotator")
    assert users.authenticate_token(pg_db, token).name == "ann"


def test_a_restarted_server_costs_no_failed_request(pg_db: Database) -> None:
    # Every pooled connection dies at once (what a server restart does to them).
    conns = [pg_db.engine.connect() for _ in range(3)]
    pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in conns]
    for conn in conns:
        conn.close()
    for pid in pids:
        _terminate(pg_db, pid)
    for _ in range(3):
        assert _backend_pid(pg_db) not in pids


def test_read_connection_is_outside_a_transaction_on_postgres(pg_db: Database) -> None:
    with pg_db.read_connection() as conn:
        assert conn.connection.dbapi_connection.autocommit is True
        assert conn.execute(text("SELECT pg_current_xact_id_if_assigned()")).scalar() is None
    # Transactions still are transactions, on the same pooled connections.
    with pg_db.read_connection():
        pass
    with pg_db.write_connection() as conn:
        assert conn.connection.dbapi_connection.autocommit is False


def test_sqlite_read_connection_still_reads(sqlite_db: Database) -> None:
    _info, token = users.create_user(sqlite_db, actor="t", name="ann", role="annotator")
    assert users.authenticate_token(sqlite_db, token).name == "ann"
    with sqlite_db.read_connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 1
