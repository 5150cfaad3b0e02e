"""Bulk writes: many rows handed to the driver at once, and long writes paced.

Rules
-----
1. Writes that grow with the pool (`insert_many`, `BulkWriter`) hand rows to the
   driver's ``executemany`` as tuples in column order, each value already what the
   driver takes (JSON serialised, timestamps converted once by `driver_value`): the
   ORM's per-row, per-column work is what makes a million rows slow. Smaller writes
   (`insert_batched`) go through SQLAlchemy Core, types processed as usual.
2. `insert_batched` sends at most `WRITE_BATCH` rows a statement, and a paced write
   transaction takes at most `WRITE_BATCH` rows; `BulkWriter` sends what its caller
   buffered between two flushes.
3. A write that grows with the pool runs as a series of short write transactions
   (`WritePacer`): each takes as many rows as held the write lock about `WRITE_TARGET_S`
   the time before, at most `WRITE_BATCH`. On SQLite each is followed by a pause as
   long as it held the lock: SQLite's busy handler polls for the lock rather than
   queueing for it, so back-to-back transactions would starve a waiting writer.
4. Nothing here commits on its own except `WritePacer`, whose transactions are the
   point of it; `insert_batched`, `insert_many` and `BulkWriter` write in the caller's
   transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import utcnow
from labelloop.store.types import AwareDateTime

__all__ = [
    "WRITE_BATCH",
    "WRITE_TARGET_S",
    "BulkWriter",
    "WritePacer",
    "driver_value",
    "insert_batched",
    "insert_many",
]

WRITE_BATCH = 5_000  # most rows per executemany call and per paced write transaction
WRITE_TARGET_S = 0.02  # how long a paced write transaction aims to hold the write lock
_FIRST_ROWS = 250  # a paced write's first transaction, before any hold is measured
_FEWEST_ROWS = 100  # a paced transaction never shrinks below this (per-commit cost)
_SQLITE_DEFAULT_CACHE_KIB = 2_000  # SQLite's own page cache size


def driver_value(connection: Connection, type_: TypeEngine, value: Any) -> Any:
    """``value`` as the driver takes it for a column of type ``type_``.

    Convert once what many rows share, such as the timestamp of a bulk write, rather
    than per row.
    """
    dialect = connection.dialect
    to_db = type_.dialect_impl(dialect).bind_processor(dialect)
    return to_db(value) if to_db is not None else value


def _insert_sql(dialect: Dialect, table: str, columns: Sequence[str]) -> str:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    markers = ", ".join([marker] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({markers})"


def insert_many(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, driver values) in one ``executemany``.

    In a `WritePacer` write, ``rows`` is one paced slice (rule 2).
    """
    if rows:
        connection.exec_driver_sql(_insert_sql(connection.dialect, table, columns), list(rows))


def insert_batched(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts by column name) with Core, `WRITE_BATCH` rows a statement.

    For writes as large as the labelled set, in the caller's transaction; types are
    processed as usual, so values need no conversion.
    """
    for start in range(0, len(rows), WRITE_BATCH):
        session.execute(table.insert(), list(rows[start : start + WRITE_BATCH]))


class WritePacer:
    """Runs a long write as short write transactions, leaving the lock free between them.

    Rows cost differently by statement, so one pacer paces one kind of write: it learns
    from each transaction how many rows the next may take (rule 3).

    Parameters
    ----------
    db : Database
        Where to write; also where the caller may read the rows it writes, page by page.
    max_rows : int, optional
        The most rows a transaction takes; default `WRITE_BATCH` (read when the pacer is
        made).

    Attributes
    ----------
    db : Database
    max_rows : int
        A caller reading the rows to write page by page reads pages of this size.
    """

    def __init__(self, db: Database, *, max_rows: int | None = None) -> None:
        self.db = db
        max_rows = WRITE_BATCH if max_rows is None else max_rows
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValidationError(
                f"max_rows must be a positive number of rows, got {max_rows!r}", field="max_rows"
            )
        self.max_rows = max_rows
        self._size = min(_FIRST_ROWS, self.max_rows)
        self._pause = db.dialect == "sqlite"

    def write(
        self,
        n: int,
        write: Callable[[Session, int, int], None],
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """Call ``write(session, start, stop)`` over ``range(n)``, one transaction a slice.

        Parameters
        ----------
        n : int
            How many rows to write.
        write : callable
            ``write(session, start, stop)`` writes rows ``start`` to ``stop`` (excluded)
            in ``session``'s write transaction, which commits when it returns.
        on_progress : callable, optional
            ``on_progress(done)`` after each committed slice.
        """
        start = 0
        while start < n:
            stop = min(start + self._size, n)
            with self.db.transaction() as session:
                session.connection()  # BEGIN (IMMEDIATE on SQLite): the lock is held from here
                began = time.perf_counter()
                write(session, start, stop)
            held = time.perf_counter() - began
            growth = min(2.0, WRITE_TARGET_S / max(held, 1e-4))
            fewest = min(_FEWEST_ROWS, self.max_rows)
            self._size = max(fewest, min(self.max_rows, int(self._size * growth)))
            start = stop
            if on_progress:
                on_progress(stop)
            if self._pause:
                time.sleep(held)


class BulkWriter:
    """Rows buffered per table as tuples, written with the driver's ``executemany``.

    Append tuples (in the table's declared column order, values as the driver takes them,
    `now` for timestamps) to ``rows[table]``; `flush` writes what is buffered, in the
    caller's transaction, and empties the buffers; `close` flushes the rest. How much to
    buffer between flushes is the caller's choice: memory against round trips.

    Parameters
    ----------
    session : Session
        In a write transaction; its connection does the writing.
    columns : mapping of str to sequence of str
        The tables written, in flush order (parents first), and the columns of each.
    sqlite_cache_kib : int, optional
        On SQLite, the page cache to hold while writing, in KiB: a large write's index
        pages then stay in memory. `close` gives the connection back SQLite's default.

    Attributes
    ----------
    rows : dict of str to list of tuple
        The buffer of each table.
    now : object
        The current UTC time, converted once for the driver.
    """

    def __init__(
        self,
        session: Session,
        columns: Mapping[str, Sequence[str]],
        *,
        sqlite_cache_kib: int | None = None,
    ) -> None:
        self._connection = session.connection()
        dialect = self._connection.dialect
        self._sql = {table: _insert_sql(dialect, table, cols) for table, cols in columns.items()}
        self._cache = sqlite_cache_kib if dialect.name == "sqlite" else None
        if self._cache:
            self._connection.exec_driver_sql(f"PRAGMA cache_size=-{int(self._cache)}")
        self.now = driver_value(self._connection, AwareDateTime(), utcnow())
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in columns}

    def flush(self) -> None:
        """Write every table's buffered rows, in the order the tables were given."""
        for table, rows in self.rows.items():
            if rows:
                self._connection.exec_driver_sql(self._sql[table], rows)
                rows.clear()

    def close(self) -> None:
        """Flush what is left; give the connection back its default page cache."""
        self.flush()
        if self._cache:
            self._connection.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_DEFAULT_CACHE_KIB}")
