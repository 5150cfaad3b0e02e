"""Count the statements a call sends, at the driver.

SQLAlchemy's ``before_cursor_execute`` event does not see statements run prepared on
the driver's cursor (`labelloop.store.prepared`), so the statement budgets are counted
below it: SQLite's trace callback (every statement, ``BEGIN`` and ``COMMIT`` included)
and, on PostgreSQL, a psycopg cursor that records what it executes (psycopg's own
``BEGIN`` and the connection's ``COMMIT`` are not cursor statements and are not seen).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def driver_statements(db: Any) -> Iterator[list[str]]:
    """The statements sent to the database while the block runs, in order."""
    seen: list[str] = []
    pool = db.engine.pool

    if db.dialect == "sqlite":

        def on_checkout(dbapi_conn, _record, _proxy) -> None:
            dbapi_conn.set_trace_callback(seen.append)

        def on_checkin(dbapi_conn, _record) -> None:
            if dbapi_conn is not None:
                dbapi_conn.set_trace_callback(None)

    else:
        import psycopg

        class Counting(psycopg.Cursor):
            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                seen.append(str(query))
                return super().execute(query, *args, **kwargs)

        previous: dict[int, Callable[..., Any]] = {}

        def on_checkout(dbapi_conn, _record, _proxy) -> None:
            previous[id(dbapi_conn)] = dbapi_conn.cursor_factory
            dbapi_conn.cursor_factory = Counting

        def on_checkin(dbapi_conn, _record) -> None:
            if dbapi_conn is not None and id(dbapi_conn) in previous:
                dbapi_conn.cursor_factory = previous.pop(id(dbapi_conn))

    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", on_checkout)
        event.remove(pool, "checkin", on_checkin)
