"""What every command shares: the Typer app, the --db option, the actor, error handling."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from labelloop.exceptions import (
    AuditChainError,
    ConflictError,
    LabelloopError,
    NotFoundError,
    ValidationError,
)

__all__ = [
    "DbOption",
    "app",
    "cli_actor",
    "err_console",
    "fail",
    "open_database",
    "out_console",
    "reports_errors",
]

app = typer.Typer(
    name="labelloop",
    help="Active learning for data annotation: the model picks what humans label next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Records and tables go to stdout; progress and messages to stderr.
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

F = TypeVar("F", bound=Callable[..., Any])


def cli_actor() -> str:
    """The audit actor for CLI actions: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    return f"cli:{user}"


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
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
            fail(str(exc), code=1)
        except (ValidationError, NotFoundError, ConflictError, LabelloopError) as exc:
            fail(str(exc), code=2)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def open_database(db: str | None, *, create: bool = False):
    """Open the database for a command; without ``create`` it must exist already."""
    from labelloop.store.db import Database

    database = Database.from_url(db)
    if not create and database.dialect == "sqlite":
        from sqlalchemy.engine import make_url

        path = make_url(database.url).database
        if path and path != ":memory:":
            from pathlib import Path

            if not Path(path).exists():
                raise NotFoundError(f"no database at {path}: run `labelloop init` first")
    return database
