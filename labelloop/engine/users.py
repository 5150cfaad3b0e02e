"""Accounts, roles, API tokens, browser sessions and project memberships.

A user's role holds in every project they are a member of:

- ``admin``: everything;
- ``annotator``: labels the tasks of their projects;
- ``reviewer``: reviews and corrects annotations (and may label);
- ``model``: a client model's service account (pushes predictions, reads labels).

API tokens are random secrets (``ll_`` + 43 URL-safe characters) stored only as their
SHA-256 hex digest, so a request is authenticated by one indexed lookup. Passwords (for
browser log-in only) are hashed with argon2, which is deliberately too slow to run per
request. A browser session keeps its secret in the cookie and the secret's digest, a
CSRF token and an expiry in ``browser_sessions``.

Admins are not implicitly members of projects: `is_member` answers for memberships
only, and the HTTP layer lets admins through on its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Integer, Select, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import ROLES, UserInfo
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    ApiTokenRow,
    BrowserSessionRow,
    MembershipRow,
    ProjectRow,
    TaskRow,
    UserRow,
    utcnow,
)

__all__ = [
    "ROLES",
    "SESSION_LIFETIME",
    "TOKEN_PREFIX",
    "TokenAccess",
    "TokenInfo",
    "UserInfo",
    "add_member",
    "authenticate_token",
    "create_browser_session",
    "create_token",
    "create_user",
    "end_browser_session",
    "get_user",
    "is_member",
    "list_members",
    "list_tokens",
    "list_users",
    "remove_member",
    "revoke_token",
    "session_user",
    "token_access",
    "set_password",
    "set_user_active",
    "user_projects",
    "verify_password",
]

TOKEN_PREFIX = "ll_"
SESSION_LIFETIME = dt.timedelta(days=7)
# Writing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
_MAX_NAME = 200

_hasher = PasswordHasher()


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


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _user_info(row: UserRow) -> UserInfo:
    return UserInfo(id=row.id, name=row.name, role=row.role, is_active=bool(row.is_active))


def _token_info(row: ApiTokenRow, user_name: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        user_name=user_name,
        name=row.name,
        created_at=_aware(row.created_at),
        last_used_at=_aware(row.last_used_at),
        revoked_at=_aware(row.revoked_at),
    )


def _check_name(name: object, field: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    name = name.strip()
    if len(name) > _MAX_NAME:
        raise ValidationError(f"{field} is longer than {_MAX_NAME} characters", field=field)
    return name


def _check_role(role: object) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}: use one of {', '.join(ROLES)}", field="role")
    return role  # type: ignore[return-value]


def _check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise ValidationError("password must have at least 8 characters", field="password")
    return password


def _find_user(session: Session, ref: int | str | UserInfo) -> UserRow:
    """The user row for an id, a name or a `UserInfo` (NotFoundError if none)."""
    if isinstance(ref, UserInfo):
        ref = ref.id
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise ValidationError(f"not a user reference: {ref!r}", field="user")
    column = UserRow.id if isinstance(ref, int) else UserRow.name
    row = session.execute(select(UserRow).where(column == ref)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no user {ref!r}: create it with `labelloop user create`")
    return row


def _new_token(session: Session, user: UserRow, name: str) -> tuple[ApiTokenRow, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(user_id=user.id, digest=_digest(secret), name=name)
    session.add(row)
    session.flush()
    return row, secret


def _add_membership(session: Session, *, actor: str, project: ProjectRow, user: UserRow) -> bool:
    exists = session.get(MembershipRow, (project.id, user.id))
    if exists is not None:
        return False
    session.add(MembershipRow(project_id=project.id, user_id=user.id))
    session.flush()
    append_event(
        session,
        project_id=project.id,
        actor=actor,
        action="member.added",
        target=f"user:{user.name}",
        after={"user": user.name, "role": user.role},
    )
    return True


def create_user(
    db: Database,
    *,
    actor: str,
    name: str,
    role: str,
    password: str | None = None,
    projects: Iterable[int | str] = (),
) -> tuple[UserInfo, str]:
    """Create a user with a first API token, optionally a password and memberships.

    Parameters
    ----------
    db : Database
    actor : str
        Who creates the user (audit actor).
    name : str
        Unique user name.
    role : {"admin", "annotator", "reviewer", "model"}
    password : str, optional
        For browser log-in (at least 8 characters); hashed with argon2.
    projects : iterable of int or str
        Projects (id or name) the user becomes a member of.

    Returns
    -------
    (UserInfo, str)
        The user and a fresh API token, which is not stored and cannot be shown again.
    """
    name = _check_name(name, "name")
    role = _check_role(role)
    password_hash = _hasher.hash(_check_password(password)) if password is not None else None
    with db.transaction() as session:
        taken = session.execute(select(UserRow.id).where(UserRow.name == name)).first()
        if taken is not None:
            raise ConflictError(f"a user named {name!r} exists already")
        user = UserRow(name=name, role=role, password_hash=password_hash, is_active=True)
        session.add(user)
        session.flush()
        append_event(
            session,
            project_id=None,
            actor=actor,
            action="user.created",
            target=f"user:{name}",
            after={"name": name, "role": role, "password": password is not None},
        )
        token_row, secret = _new_token(session, user, "initial")
        append_event(
            session,
            project_id=None,
            actor=actor,
            action="token.created",
            target=f"token:{token_row.id}",
            after={"user": name, "name": token_row.name},
        )
        for ref in projects:
            _add_membership(session, actor=actor, project=resolve_project(session, ref), user=user)
        return _user_info(user), secret


def get_user(db: Database, ref: int | str) -> UserInfo:
    """The user with this id or name (NotFoundError if none)."""
    with db.read() as session:
        return _user_info(_find_user(session, ref))


def list_users(db: Database) -> list[UserInfo]:
    """Every user, by name."""
    with db.read() as session:
        rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars()
        return [_user_info(row) for row in rows]


def set_user_active(db: Database, *, actor: str, user: int | str, active: bool) -> UserInfo:
    """Deactivate (or reactivate) a user: a deactivated user's tokens and sessions stop working."""
    if not isinstance(active, bool):
        raise ValidationError("active must be true or false", field="active")
    with db.transaction() as session:
        row = _find_user(session, user)
        if bool(row.is_active) != active:
            row.is_active = active
            append_event(
                session,
                project_id=None,
                actor=actor,
                action="user.activated" if active else "user.deactivated",
                target=f"user:{row.name}",
            )
        return _user_info(row)


def set_password(db: Database, *, actor: str, user: int | str, password: str) -> None:
    """Set (or replace) a user's browser log-in password (at least 8 characters)."""
    password_hash = _hasher.hash(_check_password(password))
    with db.transaction() as session:
        row = _find_user(session, user)
        row.password_hash = password_hash
        append_event(
            session,
            project_id=None,
            actor=actor,
            action="user.password_set",
            target=f"user:{row.name}",
        )


def create_token(
    db: Database, *, actor: str, user: int | str, name: str = ""
) -> tuple[TokenInfo, str]:
    """Create another API token for a user.

    Returns
    -------
    (TokenInfo, str)
        The token's metadata and its secret, shown once and stored only as a digest.
    """
    if not isinstance(name, str) or len(name) > _MAX_NAME:
        raise ValidationError(
            f"token name must be a string of at most {_MAX_NAME} characters", field="name"
        )
    with db.transaction() as session:
        row = _find_user(session, user)
        token_row, secret = _new_token(session, row, name)
        append_event(
            session,
            project_id=None,
            actor=actor,
            action="token.created",
            target=f"token:{token_row.id}",
            after={"user": row.name, "name": name},
        )
        return _token_info(token_row, row.name), secret


def list_tokens(db: Database, *, user: int | str | None = None) -> list[TokenInfo]:
    """API tokens (metadata only), of one user or of everyone, oldest first."""
    with db.read() as session:
        query = select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
        if user is not None:
            query = query.where(ApiTokenRow.user_id == _find_user(session, user).id)
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
    params: dict[str, Any] = {"digest": _digest(token)}
    if scope is not None:
        # Outside the id range nothing matches; keep the integer inside SQLite's.
        params["scope_id"] = scope[1] if 0 < scope[1] < 2**62 else 0
    with db.read_connection() as conn:
        found = conn.execute(_token_statement(scope and scope[0]), params).first()
    if found is None or found.revoked_at is not None or not found.is_active:
        return None
    user = UserInfo(id=found.user_id, name=found.name, role=found.role, is_active=True)
    last_used = _aware(found.last_used_at)
    now = utcnow()
    if last_used is None or now - last_used > _LAST_USED_RESOLUTION:
        with db.transaction() as session:
            row = session.get(ApiTokenRow, found.id)
            if row is not None:
                row.last_used_at = now
    return TokenAccess(user=user, project_id=found.scope_project if scope else None)


def authenticate_token(db: Database, token: str) -> UserInfo | None:
    """The active user an API token belongs to, or None (unknown, revoked, inactive)."""
    access = token_access(db, token)
    return None if access is None else access.user


def verify_password(db: Database, name: str, password: str) -> UserInfo | None:
    """The active user when ``password`` is theirs, else None (same answer for any miss)."""
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    with db.read() as session:
        row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        if row is None or not row.password_hash or not row.is_active:
            return None
        info, password_hash = _user_info(row), row.password_hash
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return info


def create_browser_session(
    db: Database, user_id: int, *, lifetime: dt.timedelta = SESSION_LIFETIME
) -> tuple[str, str]:
    """Start a browser session for a user who has just logged in.

    Returns
    -------
    (str, str)
        The cookie secret (stored only as its digest) and the session's CSRF token,
        which unsafe requests must send back in the ``X-CSRF-Token`` header.
    """
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.transaction() as session:
        user = _find_user(session, user_id)
        session.add(
            BrowserSessionRow(
                user_id=user.id,
                digest=_digest(secret),
                csrf_token=csrf,
                expires_at=utcnow() + lifetime,
            )
        )
        append_event(
            session,
            project_id=None,
            actor=user.name,
            action="session.started",
            target=f"user:{user.name}",
        )
    return secret, csrf


def session_user(db: Database, secret: str) -> tuple[UserInfo, str] | None:
    """The active user and CSRF token of an unexpired browser session, or None."""
    if not isinstance(secret, str) or not secret or len(secret) > 200:
        return None
    with db.read() as session:
        found = session.execute(
            select(BrowserSessionRow, UserRow)
            .join(UserRow, UserRow.id == BrowserSessionRow.user_id)
            .where(BrowserSessionRow.digest == _digest(secret))
        ).first()
        if found is None:
            return None
        row, user = found
        if _aware(row.expires_at) <= utcnow() or not user.is_active:
            return None
        return _user_info(user), row.csrf_token


def end_browser_session(db: Database, secret: str) -> bool:
    """Log out: delete the browser session. True when there was one."""
    if not isinstance(secret, str) or not secret:
        return False
    with db.transaction() as session:
        row = session.execute(
            select(BrowserSessionRow).where(BrowserSessionRow.digest == _digest(secret))
        ).scalar_one_or_none()
        if row is None:
            return False
        user = session.get(UserRow, row.user_id)
        session.delete(row)
        append_event(
            session,
            project_id=None,
            actor=user.name,
            action="session.ended",
            target=f"user:{user.name}",
        )
        return True


def add_member(db: Database, *, actor: str, project: int | str, user: int | str) -> bool:
    """Make a user a member of a project. True when added, False when already a member."""
    with db.transaction() as session:
        project_row = resolve_project(session, project)
        return _add_membership(
            session, actor=actor, project=project_row, user=_find_user(session, user)
        )


def remove_member(db: Database, *, actor: str, project: int | str, user: int | str) -> bool:
    """End a user's membership of a project. True when removed, False when not a member."""
    with db.transaction() as session:
        project_row = resolve_project(session, project)
        user_row = _find_user(session, user)
        row = session.get(MembershipRow, (project_row.id, user_row.id))
        if row is None:
            return False
        session.delete(row)
        append_event(
            session,
            project_id=project_row.id,
            actor=actor,
            action="member.removed",
            target=f"user:{user_row.name}",
            before={"user": user_row.name, "role": user_row.role},
        )
        return True


def list_members(db: Database, project: int | str) -> list[UserInfo]:
    """The members of a project, by name."""
    with db.read() as session:
        project_row = resolve_project(session, project)
        rows = session.execute(
            select(UserRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.project_id == project_row.id)
            .order_by(UserRow.name)
        ).scalars()
        return [_user_info(row) for row in rows]


def is_member(db: Database, project_id: int, user_id: int) -> bool:
    """Whether the user is a member of the project (one primary-key lookup)."""
    with db.read() as session:
        return session.get(MembershipRow, (project_id, user_id)) is not None


def user_projects(db: Database, user_id: int) -> list[int]:
    """The ids of the projects a user is a member of, ascending."""
    with db.read() as session:
        return list(
            session.execute(
                select(MembershipRow.project_id)
                .where(MembershipRow.user_id == user_id)
                .order_by(MembershipRow.project_id)
            ).scalars()
        )
