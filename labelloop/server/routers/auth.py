"""Browser log-in: a password gives a session cookie and a CSRF token; log-out ends it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from labelloop.engine import users as user_engine
from labelloop.server.deps import SESSION_COOKIE, CurrentUser, DbDep, GuardedRoute, SettingsDep
from labelloop.server.errors import ApiError
from labelloop.server.schemas import LoginCreate, SessionPublic

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"], route_class=GuardedRoute)


@router.post("/login", response_model=SessionPublic)
def login(body: LoginCreate, db: DbDep, settings: SettingsDep, response: Response) -> SessionPublic:
    """Check a name and password; set the ``labelloop_session`` cookie (HttpOnly).

    Send the returned ``csrf_token`` as ``X-CSRF-Token`` on every unsafe request made
    with the cookie.
    """
    user = user_engine.verify_password(db, body.name, body.password)
    if user is None or not user.is_active:
        raise ApiError(401, "wrong name or password", field="password")
    secret, csrf = user_engine.create_browser_session(db, user.id)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
        max_age=int(user_engine.SESSION_LIFETIME.total_seconds()),
    )
    return SessionPublic(user=user, csrf_token=csrf)


@router.get("/me", response_model=SessionPublic)
def me(user: CurrentUser, request: Request) -> SessionPublic:
    """The calling user; with a cookie session, its CSRF token too."""
    csrf = getattr(request.state, "csrf_token", None) or ""
    return SessionPublic(user=user, csrf_token=csrf)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, request: Request, db: DbDep) -> Response:
    """End the cookie session (a bearer token stays valid: revoke it instead)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret and getattr(request.state, "auth", None) == "cookie":
        user_engine.end_browser_session(db, secret)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
