"""Browser log-in: a password gives a session cookie and a CSRF token; log-out ends it;
a logged-in user changes their own password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from labelloop.engine import users as user_engine
from labelloop.server.deps import (
    CurrentUser,
    DbDep,
    GuardedRoute,
    SettingsDep,
    client_address,
)
from labelloop.server.errors import ApiError
from labelloop.server.schemas import (
    LoginCreate,
    PasswordChangeCreate,
    PasswordChangePublic,
    SessionPublic,
)
from labelloop.server.sessions import SESSION_COOKIE, end_session, start_session

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"], route_class=GuardedRoute)


@router.post("/login", response_model=SessionPublic)
def login(
    body: LoginCreate, request: Request, db: DbDep, settings: SettingsDep, response: Response
) -> SessionPublic:
    """Check a name and password; set the ``labelloop_session`` cookie (HttpOnly).

    Failed log-ins are throttled per account and per client address: after a few, further
    attempts get 429 with ``Retry-After`` (seconds) for a growing delay, and then the
    account is locked for a while (see the ``login_*`` server settings).

    Send the returned ``csrf_token`` as ``X-CSRF-Token`` on every unsafe request made
    with the cookie.
    """
    user = user_engine.check_login(
        db,
        name=body.name,
        password=body.password,
        address=client_address(request),
        policy=settings.login_policy,
    )
    if user is None or not user.is_active:
        raise ApiError(401, "wrong name or password", field="password")
    csrf = start_session(response, db, user.id, secure=settings.secure_cookies)
    return SessionPublic(user=user, csrf_token=csrf)


@router.get("/me", response_model=SessionPublic)
def me(user: CurrentUser, request: Request) -> SessionPublic:
    """The calling user; with a cookie session, its CSRF token too."""
    csrf = getattr(request.state, "csrf_token", None) or ""
    return SessionPublic(user=user, csrf_token=csrf)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, request: Request, db: DbDep) -> Response:
    """End the cookie session (a bearer token stays valid: revoke it instead)."""
    by_cookie = getattr(request.state, "auth", None) == "cookie"
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    end_session(response, db, request.cookies.get(SESSION_COOKIE) if by_cookie else None)
    return response


@router.post("/password", response_model=PasswordChangePublic)
def change_password(
    body: PasswordChangeCreate,
    user: CurrentUser,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
) -> PasswordChangePublic:
    """Change the caller's password, giving the current one (checked, and throttled, like
    a log-in). Every other browser session of the caller ends (with a cookie session, the
    calling one stays); with ``revoke_tokens`` every API token of the caller is revoked."""
    by_cookie = getattr(request.state, "auth", None) == "cookie"
    change = user_engine.change_password(
        db,
        user=user.id,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=request.cookies.get(SESSION_COOKIE) if by_cookie else None,
        revoke_tokens=body.revoke_tokens,
        address=client_address(request),
        policy=settings.login_policy,
    )
    return PasswordChangePublic(
        sessions_ended=change.sessions_ended, tokens_revoked=change.tokens_revoked
    )
