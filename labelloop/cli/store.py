"""Database and audit commands: ``init``, ``db upgrade``, ``audit verify``, ``audit export``."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from labelloop.cli.common import DbOption, app, err_console, open_database, reports_errors
from labelloop.exceptions import AuditChainError, ValidationError

__all__ = ["audit_app", "db_app"]

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def _say(message: str) -> None:
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _unreadable_as_error(where: str) -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:  # not a database, unreachable server, ...
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ValidationError(f"cannot use database {where}: {reason}", field="db") from exc


@app.command("init")
@reports_errors
def init(db: DbOption = None) -> None:
    """Create the database (default: labelloop.db here) with the newest schema."""
    from labelloop.store.migrate import current_revision, head_revision

    database = open_database(db, create=True)
    where = _where(database.url)
    try:
        with _unreadable_as_error(where):
            before = current_revision(database)
            database.create_schema()
    finally:
        database.dispose()
    if before is None:
        _say(f"created database {where} (schema {head_revision()})")
    else:
        _say(f"database {where} already exists (schema {head_revision()})")


@db_app.command("upgrade")
@reports_errors
def upgrade(
    db: DbOption = None,
    revision: Annotated[
        str, typer.Option("--revision", help="Upgrade up to this revision.")
    ] = "head",
) -> None:
    """Apply the schema migrations an existing database lacks."""
    from labelloop.store.migrate import current_revision
    from labelloop.store.migrate import upgrade as upgrade_schema

    database = open_database(db)
    where = _where(database.url)
    try:
        with _unreadable_as_error(where):
            before = current_revision(database)
            upgrade_schema(database, revision)
            after = current_revision(database)
    finally:
        database.dispose()
    if before == after:
        _say(f"{where}: schema already at {after}")
    else:
        _say(f"{where}: schema upgraded from {before or 'empty'} to {after}")


@audit_app.command("verify")
@reports_errors
def verify(
    project: Annotated[
        str | None, typer.Argument(help="Project name or id.", show_default=False)
    ] = None,
    global_chain: Annotated[
        bool, typer.Option("--global", help="Verify the global chain (users, tokens).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Recompute an audit chain: exit 0 when intact, 1 at the first broken link."""
    from labelloop.engine.audit import verify_chain, verify_global_chain

    if (project is None) == (not global_chain):
        raise ValidationError("name a PROJECT or pass --global (not both)", field="project")
    database = open_database(db)
    try:
        report = verify_global_chain(database) if global_chain else verify_chain(database, project)
    finally:
        database.dispose()
    if not report.ok:
        raise AuditChainError(
            report.message, event_id=report.broken_event_id, seq=report.broken_seq
        )
    _say(f"ok: {report.message}")


@audit_app.command("export")
@reports_errors
def export(
    project: Annotated[
        str | None, typer.Argument(help="Project name or id.", show_default=False)
    ] = None,
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

    if (project is None) == (not global_chain):
        raise ValidationError("name a PROJECT or pass --global (not both)", field="project")
    database = open_database(db)
    events = export_events(database, None if global_chain else project)
    try:
        first = next(events, None)  # resolves the project before any file is created
        if out is None:
            n_events = _write_jsonl(first, events, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as stream:
                n_events = _write_jsonl(first, events, stream)
    finally:
        events.close()
        database.dispose()
    _say(f"exported {n_events} events" + (f" to {out}" if out else ""))


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
