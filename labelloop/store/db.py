"""Database connection: engine and transactions for SQLite (default) and PostgreSQL.

The engine's use cases own the transaction::

    db = Database.from_url("sqlite:///labelloop.db")
    with db.transaction() as session:   # BEGIN IMMEDIATE on SQLite: no upgrade deadlocks
        ...                             # change + audit event, committed together
    with db.read() as session:          # a read-only snapshot
        ...

Repository functions take a session and never commit.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from labelloop.exceptions import ValidationError
from labelloop.store.checkpoint import SAFETY_PAGES, Checkpointer

try:
    import fcntl
except ImportError:  # Windows: writers of other processes meet SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_URL", "Database", "resolve_url"]

DEFAULT_URL = "sqlite:///labelloop.db"


def resolve_url(url: str | None = None) -> str:
    """The database URL to use: ``url``, else ``$LABELLOOP_DB``, else ``labelloop.db`` here.

    A bare path (``data/team.db``) is taken as a SQLite file.
    """
    url = url or os.environ.get("LABELLOOP_DB") or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


def _server_hung_up(dbapi_conn: Any) -> bool:
    """Whether an idle PostgreSQL connection is dead: closed on our side, or its socket
    has something to read (the server's termination notice, or end of file), which an
    idle session that listens to nothing never receives otherwise."""
    if dbapi_conn.closed or dbapi_conn.broken:
        return True
    try:
        readable, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _WriterQueue:
    """The queue SQLite writers wait in: a thread lock, then a file lock shared by processes.

    Threads of one process queue on the re-entrant thread lock (so a nested write fails
    as before rather than hanging); processes (``labelloop serve --workers N``, the CLI
    beside a server) queue on an exclusive ``flock`` of ``<database>-writer.lock``, which
    the kernel hands to the next waiter as soon as it is released, where SQLite's own
    busy handler would sleep and poll. Without ``fcntl`` (Windows) only the thread lock
    is taken and other processes meet the busy handler.
    """

    def __init__(self, database: Path) -> None:
        self._thread_lock = threading.RLock()
        self._path = database.with_name(database.name + "-writer.lock")
        self._fd: int | None = None
        self._pid: int | None = None
        self._depth = 0

    def _file(self) -> int | None:
        if fcntl is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> _WriterQueue:
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                fd = self._file()
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # waits with the GIL released
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        """Close the lock file (the lock itself is released with each write)."""
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


class Database:
    """A database by URL, with write and read transactions.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///path.db`` (default) or ``postgresql+psycopg://...``.
    artifact_dir : path, optional
        Where model artifacts live. Default: ``<db name>-artifacts`` beside a SQLite
        file, else ``$LABELLOOP_ARTIFACTS`` or ``./labelloop-artifacts``.
    """

    def __init__(self, url: str, *, artifact_dir: str | Path | None = None) -> None:
        self.url = resolve_url(url)
        try:
            parsed = make_url(self.url)
        except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
            raise ValidationError(f"not a database URL: {self.url!r}", field="db") from exc
        if parsed.drivername in ("postgresql", "postgres"):  # the driver we ship: psycopg 3
            parsed = parsed.set(drivername="postgresql+psycopg")
            self.url = parsed.render_as_string(hide_password=False)
        self.dialect = parsed.get_backend_name()
        if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
            self.engine = self._sqlite_engine(parsed.database)
        elif parsed.drivername == "postgresql+psycopg":
            self.engine = self._postgres_engine(parsed)
        else:
            raise ValidationError(
                f"unsupported database {parsed.drivername!r} in "
                f"{parsed.render_as_string(hide_password=True)!r}: "
                "use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME",
                field="db",
            )
        self._write_engine = self.engine.execution_options(labelloop_write=True)
        # A single-statement read needs no transaction of its own: on PostgreSQL,
        # autocommit saves the BEGIN and ROLLBACK round trips around it.
        self._statement_engine = (
            self.engine
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # SQLite admits one writer at a time and makes the others sleep-poll for the lock
        # (its busy handler backs off up to 100 ms a try), which sets the tail latency of
        # a busy server. Writers queue on a lock of ours instead and get the database
        # lock as soon as it is free: see `_WriterQueue`.
        self._checkpointer: Checkpointer | None = None
        if self.dialect != "sqlite":
            self._write_lock = nullcontext()
        elif parsed.database and parsed.database != ":memory:":
            self._write_lock = _WriterQueue(Path(parsed.database))
            # The write-ahead log is copied into the file off the writers' path: see
            # `labelloop.store.checkpoint`.
            self._checkpointer = Checkpointer(Path(parsed.database), self._write_lock)
        else:
            self._write_lock = threading.RLock()
        self.artifact_dir = (
            Path(artifact_dir) if artifact_dir else self._default_artifact_dir(parsed.database)
        )

    @classmethod
    def from_url(cls, url: str | None = None, **kwargs) -> Database:
        """Open the database named by ``url`` / ``$LABELLOOP_DB`` / the default."""
        return cls(resolve_url(url), **kwargs)

    def _default_artifact_dir(self, database: str | None) -> Path:
        if self.dialect == "sqlite" and database and database != ":memory:":
            path = Path(database)
            return path.with_name(path.stem + "-artifacts")
        return Path(os.environ.get("LABELLOOP_ARTIFACTS", "labelloop-artifacts"))

    @staticmethod
    def _sqlite_engine(database: str | None) -> Engine:
        in_memory = not database or database == ":memory:"
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            f"sqlite:///{database or ':memory:'}",
            connect_args={"timeout": 30, "check_same_thread": False},
            # Each connection to :memory: is a database of its own: share one.
            **({"poolclass": StaticPool} if in_memory else {}),
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            # We emit BEGIN ourselves (below); pysqlite's implicit transactions would not.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Writers checkpoint by themselves only past this bound; the checkpointer
            # thread keeps the log far below it (`labelloop.store.checkpoint`, rule 1).
            cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:
            write = conn.get_execution_options().get("labelloop_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @staticmethod
    def _postgres_engine(url: Any) -> Engine:
        engine = create_engine(url, pool_size=10, max_overflow=20)

        @event.listens_for(engine, "checkout")
        def _on_checkout(dbapi_conn, _record, _proxy) -> None:
            # Instead of a ping (a round trip on every checkout, two a request), look at
            # the idle connection's socket: a server that restarted or ended the session
            # has sent its goodbye (or closed it), so the socket reads. Raising here makes
            # the pool discard the connection and hand out a fresh one.
            if _server_hung_up(dbapi_conn):
                raise DisconnectionError("the PostgreSQL server closed this connection")

        return engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commits on success, rolls back on any error."""
        with (
            self._write_lock,
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
        self._committed()

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction (schema changes, bulk loads).

        Commits on success, rolls back on any error; ``BEGIN IMMEDIATE`` on SQLite.
        """
        with self._write_lock, self._write_engine.begin() as conn:
            yield conn
        self._committed()

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.committed()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for a single-statement read.

        Cheaper than `read` for a statement that needs no ORM objects: the per-request
        look-ups of the service use it. On PostgreSQL each statement runs in autocommit
        (a snapshot of its own, no BEGIN and ROLLBACK round trips), so a caller that
        needs two statements to agree must use `read`.
        """
        with self._statement_engine.connect() as conn:
            yield conn

    def create_schema(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        # Alembic loads when a schema is built, not with every process that opens a database.
        from labelloop.store.migrate import upgrade

        upgrade(self)

    def refresh_statistics(self, *tables: str) -> None:
        """Refresh the planner's statistics of ``tables`` after a bulk change (PostgreSQL;
        SQLite plans these statements well without them).

        Autovacuum would do it within a minute or so; until then PostgreSQL plans with
        the sizes the tables had before, and took 150 to 600 ms to lease a task among
        2,000 just imported (a nested loop it chose for a table it thought empty).
        """
        if self.dialect != "postgresql" or not tables:
            return
        names = ", ".join(self.engine.dialect.identifier_preparer.quote(t) for t in tables)
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {names}")
            conn.commit()

    def dispose(self) -> None:
        """Close every pooled connection and stop the write-ahead log's checkpointer."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()
        if isinstance(self._write_lock, _WriterQueue):
            self._write_lock.close()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"
