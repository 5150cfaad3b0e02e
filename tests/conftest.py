"""Shared fixtures: real databases for the tests, never mocks.

- ``sqlite_db``: a fresh `Database` on a SQLite file in the test's tmp_path, schema created.
- ``pg_server``: one real PostgreSQL server per test session, started in a temporary
  data directory (as the ``postgres`` system user when the tests run as root, since the
  server refuses to run as root), listening on 127.0.0.1 only; its base URL.
- ``pg_db``: a fresh database on that server per test, schema created, dropped after.
- ``database``: parametrised over ``sqlite`` and ``postgres``.

The schema is built once per session by `Database.create_schema` into a template (a
SQLite file copied per test, a PostgreSQL template database cloned per test), so a fresh
database costs a file copy or a ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from loopback import free_port

from labelloop.store.db import Database

PG_USER = "postgres"
_TEMPLATE_DB = "labelloop_template"
_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the PostgreSQL server ``postgres`` (``-m "not postgres"``)."""
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


# --------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    with db.engine.connect() as conn:
        # Fold the WAL into the main file so one file copy is the whole database.
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    """A fresh `Database` on a SQLite file in ``tmp_path``, schema created."""
    path = tmp_path / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class PgServer:
    """A running PostgreSQL server: ``url(name)`` is the URL of database ``name`` on it."""

    host: str
    port: int
    version_num: int = 150000  # server_version_num, e.g. 150004 for 15.4

    def url(self, name: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{name}"

    def admin_execute(self, *statements: str) -> None:
        """Run statements outside a transaction (CREATE/DROP DATABASE) on ``postgres``."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            for statement in statements:
                conn.execute(statement)

    def create_database(self, *, template: str | None = None) -> str:
        """Create an empty (or templated) database and return its name."""
        name = f"t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        # FILE_COPY (PostgreSQL 15+) clones a small template faster than logging every page.
        strategy = " STRATEGY FILE_COPY" if self.version_num >= 150000 else ""
        self.admin_execute(f"CREATE DATABASE {name} TEMPLATE {template or 'template0'}{strategy}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, closing whatever connections a test left open."""
        self.admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pg_bin_dir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
        "or on PATH: run `make test`, whose system-deps target installs the postgresql "
        "package, or `apt-get install postgresql`.",
        pytrace=False,
    )


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", PG_USER, "--", *argv]


def _run_as_server_user(argv: list[str], root: Path) -> subprocess.CompletedProcess:
    # Run from the server's own directory: the working tree may be closed to its user.
    return subprocess.run(
        _as_server_user(argv), cwd=root, capture_output=True, text=True, timeout=120, check=False
    )


def _start_server(bin_dir: Path, root: Path) -> PgServer:
    data, log = root / "data", root / "server.log"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust"]
    result = _run_as_server_user([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], root)
    if result.returncode != 0:
        pytest.fail(f"initdb failed:\n{result.stdout}{result.stderr}", pytrace=False)
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
        result = _run_as_server_user([*pg_ctl, "-o", options, "start"], root)
        if result.returncode == 0:
            break
    else:
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        pytest.fail(f"PostgreSQL did not start:\n{result.stderr}\n{tail}", pytrace=False)
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user=PG_USER) as conn:
        version_num = int(conn.execute("SHOW server_version_num").fetchone()[0])
    return PgServer("127.0.0.1", port, version_num)


def _server_parent_dir() -> str | None:
    # Not pytest's tmp dir, which is private to root when the server user must enter it;
    # a short path, since the server's unix socket lives there; memory when there is room
    # (the throw-away cluster need not touch the disk).
    for candidate in ("/dev/shm", "/tmp"):
        path = Path(candidate)
        if path.is_dir() and os.access(path, os.W_OK) and shutil.disk_usage(path).free > 2**30:
            return candidate
    return None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the whole test session (trust auth, loopback only)."""
    bin_dir = _pg_bin_dir()
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.fail(
                f"running as root but there is no {PG_USER!r} system user to run the "
                "PostgreSQL server: run `make test` (installs the postgresql package).",
                pytrace=False,
            )
    root = Path(tempfile.mkdtemp(prefix="labelloop-pg-", dir=_server_parent_dir()))
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        yield _start_server(bin_dir, root)
    finally:
        if (root / "data" / "postmaster.pid").exists():
            stop = [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"]
            _run_as_server_user(stop, root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def _pg_template(pg_server: PgServer) -> str:
    pg_server.admin_execute(f"CREATE DATABASE {_TEMPLATE_DB}")
    db = Database(pg_server.url(_TEMPLATE_DB))
    db.create_schema()
    db.dispose()  # a template must have no open connections while it is cloned
    return _TEMPLATE_DB


@pytest.fixture
def pg_db(pg_server: PgServer, _pg_template: str) -> Iterator[Database]:
    """A fresh database on the session's PostgreSQL server, schema created, dropped after."""
    name = pg_server.create_database(template=_pg_template)
    db = Database(pg_server.url(name))
    try:
        yield db
    finally:
        db.dispose()
        pg_server.drop_database(name)


# --------------------------------------------------------------------------- both


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest) -> Database:
    """A fresh database with the schema created: SQLite, then PostgreSQL."""
    fixture = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return request.getfixturevalue(fixture)
