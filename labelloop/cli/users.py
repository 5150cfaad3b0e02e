"""Account commands: ``user create|list|add-to|remove-from|deactivate|set-password``,
``token ...``.

Commands never prompt. A new API token is printed once, alone on stdout (so
``TOKEN=$(labelloop user create ann --role annotator)`` captures just the token);
messages go to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from labelloop.cli.common import (
    DbOption,
    JsonLinesOption,
    app,
    cli_actor,
    print_listing,
    reports_errors,
    say,
    using_database,
)
from labelloop.exceptions import ValidationError

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(
    help="Accounts: annotators, reviewers, admins, models.", no_args_is_help=True
)
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

UserArg = Annotated[str, typer.Argument(help="The user.")]
MemberProjectArg = Annotated[str, typer.Argument(help="The project (id or name).")]


def _read_password() -> str:
    line = sys.stdin.readline()
    if not line:
        raise ValidationError("--password-stdin: nothing on standard input", field="password")
    return line.rstrip("\r\n")


@user_app.command("create")
@reports_errors
def create(
    name: Annotated[str, typer.Argument(help="A unique user name.")],
    role: Annotated[
        str, typer.Option("--role", help="admin, annotator, reviewer or model.")
    ] = "annotator",
    project: Annotated[
        list[str] | None,
        typer.Option("--project", help="A project (id or name) to join (repeatable)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a browser log-in password from stdin."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a user and print its first API token (shown this once)."""
    from labelloop.engine.users import create_user

    password = _read_password() if password_stdin else None
    with using_database(db) as database:
        user, token = create_user(
            database,
            actor=cli_actor(),
            name=name,
            role=role,
            password=password,
            projects=project or (),
        )
    joined = f", member of {', '.join(project)}" if project else ""
    say(f"created user {user.name!r} (id {user.id}, {user.role}{joined}); API token:")
    typer.echo(token)


@user_app.command("list")
@reports_errors
def list_(as_json: JsonLinesOption = False, db: DbOption = None) -> None:
    """List users."""
    from labelloop.engine.users import list_users

    with using_database(db) as database:
        users = list_users(database)
    print_listing(
        users,
        as_json=as_json,
        record=lambda user: {
            "id": user.id,
            "name": user.name,
            "role": user.role,
            "active": user.is_active,
        },
        columns=("id", "name", "role", "active"),
        row=lambda user: (str(user.id), user.name, user.role, "yes" if user.is_active else "no"),
    )


def _change_membership(
    change: Callable[..., bool],
    name: str,
    project: str,
    db: str | None,
    *,
    done: str,
    not_done: str,
) -> None:
    """Add or remove one membership with ``change`` and say whether it changed anything."""
    with using_database(db) as database:
        changed = change(database, actor=cli_actor(), project=project, user=name)
    say(f"{name!r} {done if changed else not_done} project {project!r}")


@user_app.command("add-to")
@reports_errors
def add_to(name: UserArg, project: MemberProjectArg, db: DbOption = None) -> None:
    """Make a user a member of a project."""
    from labelloop.engine.users import add_member

    _change_membership(
        add_member, name, project, db, done="joined", not_done="is already a member of"
    )


@user_app.command("remove-from")
@reports_errors
def remove_from(name: UserArg, project: MemberProjectArg, db: DbOption = None) -> None:
    """End a user's membership of a project."""
    from labelloop.engine.users import remove_member

    _change_membership(
        remove_member, name, project, db, done="left", not_done="was not a member of"
    )


@user_app.command("deactivate")
@reports_errors
def deactivate(
    name: UserArg,
    undo: Annotated[bool, typer.Option("--undo", help="Reactivate instead.")] = False,
    db: DbOption = None,
) -> None:
    """Deactivate a user: their tokens and browser sessions stop working at once."""
    from labelloop.engine.users import set_user_active

    with using_database(db) as database:
        user = set_user_active(database, actor=cli_actor(), user=name, active=undo)
    say(f"{user.name!r} is {'active' if user.is_active else 'deactivated'}")


@user_app.command("set-password")
@reports_errors
def set_password_(
    name: UserArg,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the new password from stdin (required)."),
    ] = False,
    revoke_tokens: Annotated[
        bool, typer.Option("--revoke-tokens", help="Also revoke every API token of the user.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Set a user's browser log-in password: their browser sessions end at once."""
    from labelloop.engine.users import set_password

    if not password_stdin:
        raise ValidationError(
            "give the new password on stdin with --password-stdin", field="password"
        )
    password = _read_password()
    with using_database(db) as database:
        change = set_password(
            database, actor=cli_actor(), user=name, password=password, revoke_tokens=revoke_tokens
        )
    revoked = f", {change.tokens_revoked} API tokens revoked" if revoke_tokens else ""
    say(f"password of {name!r} set; {change.sessions_ended} browser sessions ended{revoked}")


@token_app.command("create")
@reports_errors
def token_create(
    user: Annotated[str, typer.Argument(help="The user the token is for.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    db: DbOption = None,
) -> None:
    """Create an API token for a user and print it (shown this once)."""
    from labelloop.engine.users import create_token

    with using_database(db) as database:
        info, token = create_token(database, actor=cli_actor(), user=user, name=name)
    say(f"created token {info.id} for {info.user_name!r}:")
    typer.echo(token)


@token_app.command("list")
@reports_errors
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: JsonLinesOption = False,
    db: DbOption = None,
) -> None:
    """List API tokens (never their secrets)."""
    from labelloop.engine.users import list_tokens

    with using_database(db) as database:
        tokens = list_tokens(database, user=user)

    def when(moment) -> str:
        return moment.isoformat(timespec="seconds") if moment else ""

    print_listing(
        tokens,
        as_json=as_json,
        record=lambda t: {
            "id": t.id,
            "user": t.user_name,
            "name": t.name,
            "created_at": when(t.created_at),
            "last_used_at": when(t.last_used_at) or None,
            "revoked_at": when(t.revoked_at) or None,
        },
        columns=("id", "user", "name", "created", "last used", "revoked"),
        row=lambda t: (
            str(t.id),
            t.user_name,
            t.name,
            when(t.created_at),
            when(t.last_used_at),
            when(t.revoked_at),
        ),
    )


@token_app.command("revoke")
@reports_errors
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `token list`).")],
    db: DbOption = None,
) -> None:
    """Revoke an API token: it stops working at once."""
    from labelloop.engine.users import revoke_token

    with using_database(db) as database:
        info = revoke_token(database, actor=cli_actor(), token_id=token_id)
    say(f"revoked token {info.id} of {info.user_name!r}")
