"""What every command shares: the Typer app, the --db option, the actor, the database,
error reporting, messages and progress bars.

Rules the commands keep through these helpers:

- A command opens its database with `using_database` only: it exists (unless the command
  creates it), it is disposed of when the command ends, and a file that is no database or
  a server out of reach is reported by name, never as a traceback.
- A command is decorated with `reports_errors`: labelloop's errors become one line on
  stderr and an exit code (2 for bad input or missing things, 1 for a broken audit chain).
- Records and tables go to stdout (`out_console`, `print_listing`); messages and progress to
  stderr, and a message is printed as plain text (`say`), so names that look like markup stay
  as typed.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelloop.exceptions import AuditChainError, LabelloopError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from labelloop.store.db import Database

__all__ = [
    "DaskOption",
    "DbOption",
    "JsonLinesOption",
    "StageProgress",
    "app",
    "cli_actor",
    "database_location",
    "err_console",
    "out_console",
    "print_listing",
    "progress_bars",
    "reports_errors",
    "say",
    "stage_progress",
    "using_database",
]

app = typer.Typer(
    name="labelloop",
    help="Active learning for data annotation: the model picks what humans label next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out_console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="LABELLOOP_DB",
        help="Database URL or SQLite path (default: labelloop.db here).",
        show_default=False,
    ),
]

DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask",
        envvar="LABELLOOP_DASK",
        help="Dask scheduler address (tcp://host:8786): score the pool on that cluster "
        "(needs the scale extra).",
        show_default=False,
    ),
]

JsonLinesOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]

StageProgress = Callable[[str, int, int | None], None]
"""Called as ``(stage, done, total)``; total None draws a bar of unknown length."""

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def cli_actor() -> str:
    """The audit actor for CLI actions: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    return f"cli:{user}"


def say(message: str) -> None:
    """Print a message to stderr as plain text, on one line however wide."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


def print_listing(
    items: Sequence[T],
    *,
    as_json: bool,
    record: Callable[[T], Mapping[str, Any]],
    columns: Sequence[str],
    row: Callable[[T], Sequence[str]],
) -> None:
    """Print a listing to stdout: one JSON object per item (``--json``), else a table.

    Parameters
    ----------
    items : sequence
        What is listed, in order.
    as_json : bool
        Print ``record(item)`` as one JSON line per item instead of the table.
    record : callable
        An item's JSON object.
    columns : sequence of str
        The table's column headers.
    row : callable
        An item's table cells, one per column.
    """
    if as_json:
        for item in items:
            sys.stdout.write(json.dumps(record(item)) + "\n")
        return
    table = Table(*columns)
    for item in items:
        table.add_row(*row(item))
    out_console.print(table)


def _fail(message: str, code: int) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def reports_errors(func: F) -> F:
    """Turn labelloop's errors into a one-line message and an exit code, no traceback.

    Bad input and missing things exit 2; a broken audit chain exits 1.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AuditChainError as exc:
            _fail(str(exc), code=1)
        except LabelloopError as exc:
            _fail(str(exc), code=2)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def database_location(url: str) -> str:
    """Where a database is, for messages: a SQLite file's full path, else the URL sans password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


@contextmanager
def using_database(db: str | None, *, create: bool = False) -> Iterator[Database]:
    """The database a command works on, disposed of when the block ends.

    Parameters
    ----------
    db : str or None
        The ``--db`` value: a URL, a SQLite path, or None for the default.
    create : bool, default False
        Whether a SQLite file may be missing (``init`` creates it).

    Raises
    ------
    NotFoundError
        Without ``create``, a SQLite file that does not exist.
    ValidationError
        The database cannot be used: not a database, unreachable, no schema
        (``field="db"``, the message names the database).
    """
    from sqlalchemy.exc import DatabaseError

    from labelloop.store.db import Database

    database = Database.from_url(db)
    try:
        if not create:
            _check_exists(database)
        yield database
    except DatabaseError as exc:  # not a database, unreachable server, ...
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        where = database_location(database.url)
        raise ValidationError(f"cannot use database {where}: {reason}", field="db") from exc
    finally:
        database.dispose()


def _check_exists(database: Database) -> None:
    if database.dialect != "sqlite":
        return
    from sqlalchemy.engine import make_url

    path = make_url(database.url).database
    if path and path != ":memory:" and not Path(path).exists():
        raise NotFoundError(f"no database at {path}: run `labelloop init` first")


def progress_bars(description: str = "{task.description}") -> Progress:
    """Progress bars on stderr that vanish when done: description, bar, done/total, time."""
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@contextmanager
def stage_progress(labels: Mapping[str, str] | None = None) -> Iterator[StageProgress]:
    """A ``progress(stage, done, total)`` callback drawing one bar per stage on stderr.

    ``labels`` names the bars of the stages it knows; other stages show their own name.
    """
    bars = progress_bars()
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task((labels or {}).get(stage, stage), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield update
