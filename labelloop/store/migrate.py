"""Schema migrations with Alembic, run in code on a `Database`.

The migration scripts ship inside the package (``labelloop/store/migrations``); no
``alembic.ini`` is needed::

    upgrade(db)                 # what `labelloop db upgrade` and `Database.create_schema` do
    current_revision(db)        # None for an empty database
    head_revision()             # the newest revision this version of labelloop knows

A schema change is made in ``tables.py`` and in a new revision, generated against a
database at the previous head and then reviewed by hand::

    with db.write_connection() as conn:
        alembic.command.revision(alembic_config(conn), "what changed", autogenerate=True,
                                 rev_id="0002")

``tests/store/test_store_schema.py`` fails while the two disagree, on SQLite and PostgreSQL.

This module does not import `labelloop.store.db`, whose `Database.create_schema` calls
`upgrade`: it asks of a database only what `Migratable` names, so the two form no import cycle.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from labelloop.exceptions import ValidationError

__all__ = [
    "MIGRATIONS_DIR",
    "Migratable",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any constant will do: it names the lock concurrent upgrades of one PostgreSQL take.
_PG_MIGRATION_LOCK = 0x6C6C_6D67


class Migratable(Protocol):
    """What migrating asks of a database: a `labelloop.store.db.Database` is one."""

    engine: Engine

    def write_connection(self) -> AbstractContextManager[Connection]:
        """A Core connection in a write transaction, committed on success."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` for labelloop's migrations, built in code.

    Parameters
    ----------
    connection : Connection, optional
        The connection the migrations run on (handed to ``migrations/env.py``).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of labelloop."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only if the package lost its migration scripts
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def current_revision(db: Migratable) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Migratable, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (default: the newest), in one transaction.

    Upgrading a database that is already at ``revision`` changes nothing. Concurrent
    upgrades of one database are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
    advisory lock), so the second finds the work done.

    Parameters
    ----------
    db : Database
        The database to upgrade.
    revision : str
        A revision id from ``labelloop/store/migrations/versions``, or ``"head"``.

    Raises
    ------
    ValidationError
        ``revision`` is not a known revision (field ``revision``).
    """
    script = ScriptDirectory.from_config(alembic_config())
    if revision != "head":
        try:
            script.get_revision(revision)
        except Exception as exc:  # alembic raises several kinds for unknown / ambiguous ids
            raise ValidationError(
                f"unknown schema revision {revision!r}; known: "
                + ", ".join(r.revision for r in script.walk_revisions()),
                field="revision",
            ) from exc
    with db.write_connection() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        command.upgrade(alembic_config(conn), revision)
