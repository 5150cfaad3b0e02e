"""API tokens: create, list, revoke, and authenticate one per request.

- A token is a random secret, ``ll_`` + 43 URL-safe characters, shown once at creation
  and stored only as its SHA-256 hex digest, so a request is authenticated by one
  indexed look-up.
- A revoked token, or a token of a deactivated user, authenticates nobody; revoking
  twice is a no-op.
- `token_access` answers who the token is and whether its user may reach the project or
  task a request names in one read; admins reach every existing row, others the rows of
  projects they are members of.
- ``last_used_at`` is written at most once a minute per token, so reads stay reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.users._rows import MAX_NAME, digest, find_user
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import ApiTokenRow, MembershipRow, ProjectRow, TaskRow, UserRow, utcnow

__all__ = [
    "TOKEN_PREFIX",
    "TokenAccess",
    "TokenInfo",
    "authenticate_token",
    "create_token",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "token_access",
]

TOKEN_PREFIX = "ll_"
# Writing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    """An API token's metadata; the secret itself is shown once, at creation."""

    id: int
    user_id: int
    user_name: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class TokenAccess:
    """What one look-up of an API token found.

    Attributes
    ----------
    user : UserInfo
        The token's user (active, token not revoked).
    project_id : int or None
        With a ``scope``: the project of the scoped row when the user may reach it (a
        member of that project, or an admin and the row exists), else None.
    """

    user: UserInfo
    project_id: int | None = None


def _token_info(row: ApiTokenRow, user_name: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        user_name=user_name,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def issue_token(
    session: Session, *, actor: str, user: UserRow, name: str
) -> tuple[ApiTokenRow, str]:
    """Add a token row for ``user`` (audited as ``token.created``) in the caller's
    transaction; the secret is returned, only its digest stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(user_id=user.id, digest=digest(secret), name=name)
    session.add(row)
    session.flush()
    append_event(
        session,
        project_id=None,
        actor=actor,
        action="token.created",
        target=f"token:{row.id}",
        after={"user": user.name, "name": name},
    )
    return row, secret


def create_token(
    db: Database, *, actor: str, user: int | str, name: str = ""
) -> tuple[TokenInfo, str]:
    """Create another API token for a user.

    Returns
    -------
    (TokenInfo, str)
        The token's metadata and its secret, shown once and stored only as a digest.
    """
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise ValidationError(
            f"token name must be a string of at most {MAX_NAME} characters", field="name"
        )
    with db.transaction() as session:
        row = find_user(session, user)
        token_row, secret = issue_token(session, actor=actor, user=row, name=name)
        return _token_info(token_row, row.name), secret


def list_tokens(db: Database, *, user: int | str | None = None) -> list[TokenInfo]:
    """API tokens (metadata only), of one user or of everyone, oldest first."""
    with db.read() as session:
        query = select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
        if user is not None:
            query = query.where(ApiTokenRow.user_id == find_user(session, user).id)
        rows = session.execute(query.order_by(ApiTokenRow.id)).all()
        return [_token_info(token, user_name) for token, user_name in rows]


def revoke_token(db: Database, *, actor: str, token_id: int) -> TokenInfo:
    """Revoke an API token; it stops authenticating at once. Revoking twice is a no-op."""
    if isinstance(token_id, bool) or not isinstance(token_id, int):
        raise ValidationError(f"token id must be an integer, not {token_id!r}", field="token_id")
    with db.transaction() as session:
        row = session.get(ApiTokenRow, token_id)
        if row is None:
            raise NotFoundError(f"no API token with id {token_id}")
        user = session.get(UserRow, row.user_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.flush()
            append_event(
                session,
                project_id=None,
                actor=actor,
                action="token.revoked",
                target=f"token:{row.id}",
                after={"user": user.name},
            )
        return _token_info(row, user.name)


_TOKENS, _USERS = ApiTokenRow.__table__, UserRow.__table__
_MEMBERS, _PROJECTS, _TASKS = MembershipRow.__table__, ProjectRow.__table__, TaskRow.__table__
# Scope kind -> (table, id column, project column) of the row a request names.
_SCOPE_COLUMNS = {
    "project": (_PROJECTS, _PROJECTS.c.id, _PROJECTS.c.id),
    "task": (_TASKS, _TASKS.c.id, _TASKS.c.project_id),
}


def _reachable(project_column) -> Any:
    """The user of the outer query is an admin or a member of ``project_column``'s project."""
    return or_(
        _USERS.c.role == "admin",
        exists()
        .where(_MEMBERS.c.project_id == project_column, _MEMBERS.c.user_id == _USERS.c.id)
        .correlate_except(_MEMBERS),
    )


@functools.cache
def _token_statement(scope: str | None) -> Select:
    """The token with its user, and for a scope the reachable project, in one statement."""
    columns = [
        _TOKENS.c.id,
        _TOKENS.c.revoked_at,
        _TOKENS.c.last_used_at,
        _USERS.c.id.label("user_id"),
        _USERS.c.name,
        _USERS.c.role,
        _USERS.c.is_active,
    ]
    if scope is not None:
        table, key, project = _SCOPE_COLUMNS[scope]
        reachable = (
            select(project)
            .where(key == bindparam("scope_id", type_=Integer), _reachable(project))
            .correlate_except(table)
        )
        columns.append(reachable.scalar_subquery().label("scope_project"))
    return (
        select(*columns)
        .select_from(_TOKENS.join(_USERS, _USERS.c.id == _TOKENS.c.user_id))
        .where(_TOKENS.c.digest == bindparam("digest"))
    )


def token_access(
    db: Database, token: str, *, scope: tuple[str, int] | None = None
) -> TokenAccess | None:
    """Authenticate an API token and, in the same read, check access to one row.

    The service calls this once per request: the token, its user and whether the user
    may reach the project or task named in the request's path come in one statement.

    Parameters
    ----------
    db : Database
    token : str
        The API token as sent (``ll_...``).
    scope : (str, int), optional
        ``("project", id)`` or ``("task", id)``: the row whose project is checked.

    Returns
    -------
    TokenAccess or None
        None for an unknown or revoked token or an inactive user.

    Raises
    ------
    ValidationError
        An unknown scope kind or a non-integer id (``field="scope"``).
    """
    if scope is not None:
        kind, row_id = scope
        if kind not in _SCOPE_COLUMNS or isinstance(row_id, bool) or not isinstance(row_id, int):
            raise ValidationError(
                f"scope must be ('project' or 'task', id), not {scope!r}", field="scope"
            )
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    params: dict[str, Any] = {"digest": digest(token)}
    if scope is not None:
        # Outside the id range nothing matches; keep the integer inside SQLite's.
        params["scope_id"] = scope[1] if 0 < scope[1] < 2**62 else 0
    with db.read_connection() as conn:
        found = conn.execute(_token_statement(scope and scope[0]), params).first()
    if found is None or found.revoked_at is not None or not found.is_active:
        return None
    user = UserInfo(id=found.user_id, name=found.name, role=found.role, is_active=True)
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at > _LAST_USED_RESOLUTION:
        with db.transaction() as session:
            row = session.get(ApiTokenRow, found.id)
            if row is not None:
                row.last_used_at = now
    return TokenAccess(user=user, project_id=found.scope_project if scope else None)


def authenticate_token(db: Database, token: str) -> UserInfo | None:
    """The active user an API token belongs to, or None (unknown, revoked, inactive)."""
    access = token_access(db, token)
    return None if access is None else access.user
