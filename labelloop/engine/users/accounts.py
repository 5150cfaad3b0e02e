"""User accounts: create, look up, list, deactivate, and passwords for browser log-in.

(Changing a password is `passwords`' business; checking one at log-in is `logins`'.)

- A user has a unique name (at most 200 characters, surrounding spaces dropped) and one
  of the `ROLES`; a new user gets a first API token, shown once.
- A password is optional, at least 8 characters, and stored only as its argon2 hash,
  which is deliberately too slow to check per request: API requests carry tokens.
- A deactivated user's tokens and browser sessions stop working at once; the account and
  its history stay.
- Every change is an event on the global audit chain (memberships on the project's).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from labelloop.engine.core.identity import ROLES, UserInfo
from labelloop.engine.core.project import resolve_project
from labelloop.engine.users._rows import MAX_NAME, find_user, user_info
from labelloop.engine.users.memberships import _add_membership
from labelloop.engine.users.tokens import issue_token
from labelloop.exceptions import ConflictError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import UserRow

__all__ = [
    "create_user",
    "get_user",
    "list_users",
    "set_user_active",
    "verify_password",
]

_hasher = PasswordHasher()


@functools.cache
def _decoy_hash() -> str:
    """Checked against when the name matches no account, so a miss takes as long as a
    wrong password (made on first use: hashing costs tens of milliseconds)."""
    return _hasher.hash("no account has this password")


def _check_name(name: object, field: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ValidationError(f"{field} is longer than {MAX_NAME} characters", field=field)
    return name


def _check_role(role: object) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}: use one of {', '.join(ROLES)}", field="role")
    return role  # type: ignore[return-value]


def _check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise ValidationError("password must have at least 8 characters", field="password")
    return password


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
        _, secret = issue_token(session, actor=actor, user=user, name="initial")
        for ref in projects:
            _add_membership(session, actor=actor, project=resolve_project(session, ref), user=user)
        return user_info(user), secret


def get_user(db: Database, ref: int | str) -> UserInfo:
    """The user with this id or name (NotFoundError if none)."""
    with db.read() as session:
        return user_info(find_user(session, ref))


def list_users(db: Database) -> list[UserInfo]:
    """Every user, by name."""
    with db.read() as session:
        rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars()
        return [user_info(row) for row in rows]


def set_user_active(db: Database, *, actor: str, user: int | str, active: bool) -> UserInfo:
    """Deactivate (or reactivate) a user: a deactivated user's tokens and sessions stop working."""
    if not isinstance(active, bool):
        raise ValidationError("active must be true or false", field="active")
    with db.transaction() as session:
        row = find_user(session, user)
        if bool(row.is_active) != active:
            row.is_active = active
            append_event(
                session,
                project_id=None,
                actor=actor,
                action="user.activated" if active else "user.deactivated",
                target=f"user:{row.name}",
            )
        return user_info(row)


def verify_password(db: Database, name: str, password: str) -> UserInfo | None:
    """The active user when ``password`` is theirs, else None (same answer for any miss)."""
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    with db.read() as session:
        row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        usable = row is not None and bool(row.password_hash) and bool(row.is_active)
        info = user_info(row) if usable else None
        password_hash = row.password_hash if usable else _decoy_hash()
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return info
