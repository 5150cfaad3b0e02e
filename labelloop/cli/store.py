"""Database and audit commands: ``init``, ``db upgrade``, ``audit verify``, ``audit export``."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from labelloop.cli.common import (
    DbOption,
    app,
    database_location,
    reports_errors,
    say,
    using_database,
)
from labelloop.exceptions import AuditChainError, ValidationError

if TYPE_CHECKING:
    from labelloop.store.db import Database

__all__ = ["audit_app", "db_app"]

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")


ChainProject = Annotated[str | None, typer.Argument(help="Project name or id.", show_default=False)]


def _chain_project(project: str | None, global_chain: bool) -> str | None:
    """The project whose chain a command reads, None for the global chain."""
    if (project is None) == (not global_chain):
        raise ValidationError("name a PROJECT or pass --global (not both)", field="project")
    return project


@app.command("init")
@reports_errors
def init(db: DbOption = None) -> None:
    """Create the database (default: labelloop.db here) with the newest schema."""
    from labelloop.store.migrate import head_revision

    where, before, _after = _change_schema(
        db, lambda database: database.create_schema(), create=True
    )
    if before is None:
        say(f"created database {where} (schema {head_revision()})")
    else:
        say(f"database {where} already exists (schema {head_revision()})")


@db_app.command("upgrade")
@reports_errors
def upgrade(
    db: DbOption = None,
    revision: Annotated[
        str, typer.Option("--revision", help="Upgrade up to this revision.")
    ] = "head",
) -> None:
    """Apply the schema migrations an existing database lacks."""
    from labelloop.store.migrate import upgrade as upgrade_schema

    where, before, after = _change_schema(db, lambda database: upgrade_schema(database, revision))
    if before == after:
        say(f"{where}: schema already at {after}")
    else:
        say(f"{where}: schema upgraded from {before or 'empty'} to {after}")


def _change_schema(
    db: str | None, change: Callable[[Database], object], *, create: bool = False
) -> tuple[str, str | None, str | None]:
    """Apply ``change`` to the database, which must exist unless ``create``.

    Returns its location and its schema revision before and after.
    """
    from labelloop.store.migrate import current_revision

    with using_database(db, create=create) as database:
        before = current_revision(database)
        change(database)
        after = current_revision(database)
    return database_location(database.url), before, after


@audit_app.command("verify")
@reports_errors
def verify(
    project: ChainProject = None,
    global_chain: Annotated[
        bool, typer.Option("--global", help="Verify the global chain (users, tokens).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Recompute an audit chain: exit 0 when intact, 1 at the first broken link."""
    from labelloop.engine.audit import verify_chain, verify_global_chain

    project = _chain_project(project, global_chain)
    with using_database(db) as database:
        report = (
            verify_global_chain(database) if project is None else verify_chain(database, project)
        )
    if not report.ok:
        raise AuditChainError(
            report.message, event_id=report.broken_event_id, seq=report.broken_seq
        )
    say(f"ok: {report.message}")


@audit_app.command("export")
@reports_errors
def export(
    project: ChainProject = None,
    global_chain: Annotated[
        bool, typer.Option("--global", help="Export the global chain (users, tokens).")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file instead of stdout.", show_default=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write an audit chain's events as JSONL, in seq order."""
    from labelloop.engine.audit import export_events

    project = _chain_project(project, global_chain)
    with using_database(db) as database, closing(export_events(database, project)) as events:
        first = next(events, None)  # resolves the project before any file is created
        if out is None:
            n_events = _write_jsonl(first, events, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as stream:
                n_events = _write_jsonl(first, events, stream)
    say(f"exported {n_events} events" + (f" to {out}" if out else ""))


def _write_jsonl(
    first: dict[str, Any] | None, rest: Iterator[dict[str, Any]], stream: TextIO
) -> int:
    if first is None:
        return 0
    n_events = 0
    for event in itertools.chain([first], rest):
        stream.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
        n_events += 1
    return n_events
