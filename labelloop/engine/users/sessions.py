"""Browser sessions: started at log-in, checked per page, ended at log-out.

- The session's secret lives in the browser's cookie; the store keeps only its SHA-256
  digest, a CSRF token that unsafe requests send back, and an expiry.
- An expired session, or a session of a deactivated user, authenticates nobody. A
  session expires 7 days after log-in (`SESSION_LIFETIME`), or earlier when it has not
  been used for the idle time its caller gives; each use moves ``last_seen_at``
  (written at most once a minute, so reads stay reads).
- Starting and ending a session are audited on the global chain, with the user as actor.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.users._rows import digest, find_user, user_info
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import BrowserSessionRow, UserRow, utcnow

__all__ = [
    "SESSION_LIFETIME",
    "create_browser_session",
    "end_browser_session",
    "end_other_sessions",
    "session_user",
]

SESSION_LIFETIME = dt.timedelta(days=7)
_LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)


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
        user = find_user(session, user_id)
        session.add(
            BrowserSessionRow(
                user_id=user.id,
                digest=digest(secret),
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


def session_user(
    db: Database, secret: str, *, idle: dt.timedelta | None = None
) -> tuple[UserInfo, str] | None:
    """The active user and CSRF token of an unexpired browser session, or None.

    Parameters
    ----------
    db : Database
    secret : str
        The cookie's secret.
    idle : timedelta, optional
        A session unused for longer has expired; a session found extends it.
    """
    if not isinstance(secret, str) or not secret or len(secret) > 200:
        return None
    with db.read() as session:
        found = session.execute(
            select(BrowserSessionRow, UserRow)
            .join(UserRow, UserRow.id == BrowserSessionRow.user_id)
            .where(BrowserSessionRow.digest == digest(secret))
        ).first()
        if found is None:
            return None
        row, user = found
        now = utcnow()
        last_seen = row.last_seen_at or row.created_at
        if row.expires_at <= now or not user.is_active:
            return None
        if idle is not None and last_seen + idle <= now:
            return None
        result = user_info(user), row.csrf_token
    if now - last_seen > _LAST_SEEN_RESOLUTION:
        with db.transaction() as session:
            session.execute(
                update(BrowserSessionRow)
                .where(BrowserSessionRow.id == row.id)
                .values(last_seen_at=now)
            )
    return result


def end_browser_session(db: Database, secret: str) -> bool:
    """Log out: delete the browser session. True when there was one."""
    if not isinstance(secret, str) or not secret:
        return False
    with db.transaction() as session:
        row = session.execute(
            select(BrowserSessionRow).where(BrowserSessionRow.digest == digest(secret))
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


def end_other_sessions(session: Session, user_id: int, *, keep: str | None = None) -> int:
    """Delete the user's browser sessions but the one of secret ``keep``, in the caller's
    transaction; how many ended."""
    query = delete(BrowserSessionRow).where(BrowserSessionRow.user_id == user_id)
    if keep:
        query = query.where(BrowserSessionRow.digest != digest(keep))
    return session.execute(query).rowcount
