"""Browser sessions: the cookie that carries them and the CSRF token that guards writes.

The rules both faces keep (the JSON API in `labelloop.server.deps`, the pages in
`labelloop.server.web`):

1. The session's secret travels only in the ``labelloop_session`` cookie: HttpOnly,
   SameSite=Lax, Secure when the server is told it runs behind HTTPS, for the whole
   site, for as long as the session lives.
2. A write made with the cookie must carry the session's CSRF token (the API: the
   ``X-CSRF-Token`` header; pages: a ``csrf_token`` form field), compared in constant time.
"""

from __future__ import annotations

import hmac

from fastapi import Response

from labelloop.engine import users as user_engine
from labelloop.store.db import Database

__all__ = ["CSRF_HEADER", "SESSION_COOKIE", "csrf_matches", "end_session", "start_session"]

SESSION_COOKIE = "labelloop_session"
CSRF_HEADER = "X-CSRF-Token"


def start_session(response: Response, db: Database, user_id: int, *, secure: bool) -> str:
    """Open a browser session for the user, set its cookie on ``response``; its CSRF token."""
    secret, csrf = user_engine.create_browser_session(db, user_id)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
        max_age=int(user_engine.SESSION_LIFETIME.total_seconds()),
    )
    return csrf


def end_session(response: Response, db: Database, secret: str | None) -> None:
    """End the session of ``secret`` (when given) and clear the cookie on ``response``."""
    if secret:
        user_engine.end_browser_session(db, secret)
    response.delete_cookie(SESSION_COOKIE, path="/")


def csrf_matches(sent: str, expected: str) -> bool:
    """Whether the CSRF token sent is the session's (never for an empty one)."""
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())
