"""Log-in with a password, throttled per account name and per client address.

Every path that checks a password (the web form, the API's log-in, a password change)
goes through `check_login`, which keeps these rules:

1. Failures are counted per account name (as typed, known or not) and per client
   address, in the database, so every server worker sees the same counts and a restart
   forgets nothing. A count is forgotten once its last failure is older than
   ``LoginPolicy.lock_seconds``.
2. From the ``backoff_after``-th consecutive failure of an account (or the
   ``address_backoff_after``-th of an address), further attempts are refused without
   checking the password for a delay that doubles with each failure: 1 s, 2 s, 4 s, ...,
   never longer than ``lock_seconds``. A refused attempt is not a failure.
3. At the ``lock_after``-th failure the account is locked for ``lock_seconds``; the lock
   is an audit event (``login.locked``) on the global chain.
4. A successful log-in forgets the account's failures (not the address's: one good
   account must not buy an address more guesses at the others).
5. An unknown name is counted, backed off and locked exactly like a known one, and its
   password is hashed all the same, so no answer tells whether an account exists.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.users._rows import MAX_NAME
from labelloop.engine.users.accounts import verify_password
from labelloop.exceptions import ThrottledError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import LoginThrottleRow, utcnow

__all__ = [
    "LoginPolicy",
    "ThrottleState",
    "check_login",
    "login_throttle_state",
]

_ACCOUNT, _ADDRESS = "account", "address"
_MAX_KEY = 250


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed log-ins are tolerated before attempts are refused.

    Parameters
    ----------
    backoff_after : int
        Failures of one account before its attempts are refused for a growing delay.
    lock_after : int
        Failures of one account that lock it for ``lock_seconds`` (audited).
    lock_seconds : int
        How long a lock lasts, the longest back-off, and how long a failure is remembered.
    address_backoff_after : int
        Failures from one client address (over every account) before its attempts are
        refused for a growing delay.
    """

    backoff_after: int = 5
    lock_after: int = 10
    lock_seconds: int = 900
    address_backoff_after: int = 20

    def __post_init__(self) -> None:
        for name in ("backoff_after", "lock_after", "lock_seconds", "address_backoff_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(
                    f"{name} must be a positive integer, got {value!r}", field=name
                )
        if self.lock_after < self.backoff_after:
            raise ValidationError(
                f"lock_after ({self.lock_after}) must not be below backoff_after "
                f"({self.backoff_after})",
                field="lock_after",
            )


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _refusal(row: LoginThrottleRow, now: dt.datetime, policy: LoginPolicy) -> ThrottledError:
    seconds = max(1, math.ceil((row.blocked_until - now).total_seconds()))
    if row.kind == _ACCOUNT and row.failures >= policy.lock_after:
        until = row.blocked_until.strftime("%H:%M UTC")
        return ThrottledError(
            f"This account is locked after {row.failures} failed log-ins: try again in "
            f"{_wait_words(seconds)} (at {until}), or ask an admin to set a new password.",
            retry_after=seconds,
            locked=True,
            field="password",
        )
    return ThrottledError(
        f"Too many failed log-ins: wait {_wait_words(seconds)}, then try again.",
        retry_after=seconds,
        field="password",
    )


def _keys(name: str, address: str | None) -> list[tuple[str, str]]:
    keys = [(_ACCOUNT, name[:_MAX_KEY])]
    if address:
        keys.append((_ADDRESS, address[:_MAX_KEY]))
    return keys


def _rows(session: Session, keys: list[tuple[str, str]], *, lock: bool) -> list[LoginThrottleRow]:
    query = select(LoginThrottleRow).where(
        or_(*(and_(LoginThrottleRow.kind == k, LoginThrottleRow.key == v) for k, v in keys))
    )
    if lock:
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def _blocking(
    rows: list[LoginThrottleRow], now: dt.datetime, policy: LoginPolicy
) -> ThrottledError | None:
    """The refusal of the row blocked longest (a lock before a back-off), or None."""
    blocked = [row for row in rows if row.blocked_until is not None and row.blocked_until > now]
    if not blocked:
        return None
    return _refusal(max(blocked, key=lambda row: row.blocked_until), now, policy)


def _record_failure(
    db: Database, keys: list[tuple[str, str]], policy: LoginPolicy
) -> ThrottledError | None:
    """Count one failure for each key; the refusal the next attempt will meet, if any."""
    window = dt.timedelta(seconds=policy.lock_seconds)
    with db.transaction() as session:
        now = utcnow()
        # Forget what is old, so the table holds only the last window's names and addresses.
        session.execute(
            delete(LoginThrottleRow).where(
                LoginThrottleRow.last_failure_at < now - window,
                or_(LoginThrottleRow.blocked_until.is_(None), LoginThrottleRow.blocked_until < now),
            )
        )
        found = {(row.kind, row.key): row for row in _rows(session, keys, lock=True)}
        for kind, key in keys:
            row = found.get((kind, key))
            if row is None:
                row = LoginThrottleRow(kind=kind, key=key, failures=0, last_failure_at=now)
                session.add(row)
                found[(kind, key)] = row
            row.failures += 1
            row.last_failure_at = now
            threshold = policy.backoff_after if kind == _ACCOUNT else policy.address_backoff_after
            if kind == _ACCOUNT and row.failures == policy.lock_after:
                row.blocked_until = now + window
                append_event(
                    session,
                    project_id=None,
                    actor="system",
                    action="login.locked",
                    target=f"user:{key}",
                    after={"failures": row.failures, "until": row.blocked_until.isoformat()},
                )
            elif row.failures >= threshold:
                delay = min(2.0 ** (row.failures - threshold), policy.lock_seconds)
                row.blocked_until = max(row.blocked_until or now, now + dt.timedelta(seconds=delay))
        session.flush()
        return _blocking(list(found.values()), now, policy)


def _forget_account(db: Database, name: str) -> None:
    with db.transaction() as session:
        session.execute(
            delete(LoginThrottleRow).where(
                LoginThrottleRow.kind == _ACCOUNT, LoginThrottleRow.key == name[:_MAX_KEY]
            )
        )


def check_login(
    db: Database,
    *,
    name: str,
    password: str,
    address: str | None,
    policy: LoginPolicy = LoginPolicy(),
) -> UserInfo | None:
    """Check a name and password under the throttling rules of this module.

    Parameters
    ----------
    db : Database
    name, password : str
        As typed.
    address : str or None
        The client's address (None when unknown: only the account is counted).
    policy : LoginPolicy

    Returns
    -------
    UserInfo or None
        The active user when the password is theirs; None for a wrong name or password
        (the same answer for an account that does not exist).

    Raises
    ------
    ThrottledError
        Attempts for this account or from this address are refused for now (also raised
        by the failure that starts a back-off or a lock, so its answer says how long).
    """
    if not isinstance(name, str) or not isinstance(password, str):
        raise ValidationError("name and password must be strings", field="name")
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        return None
    keys = _keys(name, address)
    with db.read() as session:
        refusal = _blocking(_rows(session, keys, lock=False), utcnow(), policy)
    if refusal is not None:
        raise refusal
    user = verify_password(db, name, password)
    if user is None:
        try:
            refusal = _record_failure(db, keys, policy)
        except IntegrityError:
            # Another worker counted this name's or address's first failure at the same time.
            refusal = _record_failure(db, keys, policy)
        if refusal is not None:
            raise refusal
        return None
    _forget_account(db, name)
    return user


@dataclass(frozen=True)
class ThrottleState:
    """What the store holds about one account's or address's failed log-ins."""

    failures: int
    blocked_until: dt.datetime | None


def login_throttle_state(db: Database, *, kind: str, key: str) -> ThrottleState | None:
    """The failure count of an account (``kind="account"``) or address, or None."""
    if kind not in (_ACCOUNT, _ADDRESS):
        raise ValidationError(f"kind must be 'account' or 'address', not {kind!r}", field="kind")
    with db.read() as session:
        rows = _rows(session, [(kind, key[:_MAX_KEY])], lock=False)
    return ThrottleState(rows[0].failures, rows[0].blocked_until) if rows else None
