"""Changing a password: by its owner (who proves the current one) or set by an operator.

Rules:

1. A user changes their own password only by giving the current one, checked like a
   log-in (`logins.check_login`): a wrong one counts as a failed log-in of the account
   and from the address, so the change form is no way around the throttling.
2. The new password keeps the rule of account creation (at least 8 characters) and
   must differ from the current one.
3. The change ends every other browser session of the user (the one it was made from,
   when named, stays); with ``revoke_tokens`` it also revokes the user's API tokens,
   which are not derived from the password and so stay by default (scripts and
   client models hold them).
4. An operator's new password lifts a lock of the account (the user proved nothing, the
   operator vouches for them).
5. One audit event, ``user.password_changed`` (by its owner) or ``user.password_set``
   (by an operator), says how many sessions ended and tokens were revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from labelloop.engine.users._rows import find_user
from labelloop.engine.users.accounts import _check_password, _hasher
from labelloop.engine.users.logins import LoginPolicy, check_login
from labelloop.engine.users.sessions import end_other_sessions
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import ApiTokenRow, LoginThrottleRow, UserRow, utcnow

__all__ = ["PasswordChange", "change_password", "set_password"]


@dataclass(frozen=True)
class PasswordChange:
    """What a password change ended besides the old password."""

    sessions_ended: int
    tokens_revoked: int


def _replace(
    session: Session,
    row: UserRow,
    password_hash: str,
    *,
    actor: str,
    action: str,
    keep_session: str | None,
    revoke_tokens: bool,
) -> PasswordChange:
    row.password_hash = password_hash
    ended = end_other_sessions(session, row.id, keep=keep_session)
    revoked = 0
    if revoke_tokens:
        revoked = session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
    append_event(
        session,
        project_id=None,
        actor=actor,
        action=action,
        target=f"user:{row.name}",
        after={"sessions_ended": ended, "tokens_revoked": revoked},
    )
    return PasswordChange(sessions_ended=ended, tokens_revoked=revoked)


def change_password(
    db: Database,
    *,
    user: int | str,
    current_password: str,
    new_password: str,
    keep_session: str | None = None,
    revoke_tokens: bool = False,
    address: str | None = None,
    policy: LoginPolicy = LoginPolicy(),
) -> PasswordChange:
    """A user changes their own password, proving the current one.

    Parameters
    ----------
    db : Database
    user : int or str
        The user (id or name) changing their password.
    current_password, new_password : str
        The new one has at least 8 characters and differs from the current one.
    keep_session : str, optional
        The cookie secret of the browser session the change is made from: it stays.
    revoke_tokens : bool
        Also revoke every API token of the user.
    address : str, optional
        The client's address, for the log-in throttling the current password is checked under.
    policy : LoginPolicy

    Returns
    -------
    PasswordChange

    Raises
    ------
    ValidationError
        A wrong current password (``field="current_password"``) or a new one that breaks
        the rules (``field="new_password"``).
    ThrottledError
        Too many wrong passwords for this account or from this address.

    Examples
    --------
    >>> change_password(db, user="ann", current_password="old secret",
    ...                 new_password="new secret")  # doctest: +SKIP
    PasswordChange(sessions_ended=0, tokens_revoked=0)
    """
    if not isinstance(revoke_tokens, bool):
        raise ValidationError("revoke_tokens must be true or false", field="revoke_tokens")
    if not isinstance(current_password, str) or not current_password:
        raise ValidationError("give your current password", field="current_password")
    try:
        _check_password(new_password)
    except ValidationError as exc:
        raise ValidationError(f"the new {exc}", field="new_password") from None
    if new_password == current_password:
        raise ValidationError(
            "the new password must differ from the current one", field="new_password"
        )
    with db.read() as session:
        name = find_user(session, user).name
    proven = check_login(db, name=name, password=current_password, address=address, policy=policy)
    if proven is None:
        raise ValidationError("the current password is wrong", field="current_password")
    password_hash = _hasher.hash(new_password)
    with db.transaction() as session:
        return _replace(
            session,
            find_user(session, proven.id),
            password_hash,
            actor=name,
            action="user.password_changed",
            keep_session=keep_session,
            revoke_tokens=revoke_tokens,
        )


def set_password(
    db: Database, *, actor: str, user: int | str, password: str, revoke_tokens: bool = False
) -> PasswordChange:
    """Set (or replace) a user's browser log-in password (at least 8 characters), as an
    operator does: every browser session of the user ends, and a lock of the account
    after failed log-ins is lifted.

    Examples
    --------
    >>> set_password(db, actor="cli:ops", user="ann", password="a new secret")  # doctest: +SKIP
    PasswordChange(sessions_ended=1, tokens_revoked=0)
    """
    if not isinstance(revoke_tokens, bool):
        raise ValidationError("revoke_tokens must be true or false", field="revoke_tokens")
    password_hash = _hasher.hash(_check_password(password))
    with db.transaction() as session:
        row = find_user(session, user)
        # An operator's new password is also how a locked-out user gets back in at once.
        session.execute(
            delete(LoginThrottleRow).where(
                LoginThrottleRow.kind == "account", LoginThrottleRow.key == row.name
            )
        )
        return _replace(
            session,
            row,
            password_hash,
            actor=actor,
            action="user.password_set",
            keep_session=None,
            revoke_tokens=revoke_tokens,
        )
