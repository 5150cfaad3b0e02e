"""The caller's own account page: who they are, and a form to change their password.

The form posts the session's CSRF token; the change keeps the session it is made from
and ends the caller's others (`labelloop.engine.users.passwords`). A wrong current
password counts as a failed log-in, so the form answers the same throttling.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from labelloop.engine import users as user_engine
from labelloop.exceptions import ThrottledError, ValidationError
from labelloop.server.deps import client_address, db_of, settings_of
from labelloop.server.sessions import SESSION_COOKIE, csrf_matches
from labelloop.server.web import Page, page_caller, render, show_login

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_Secret = Annotated[str, Form(max_length=1000)]


def _account_page(
    request: Request,
    page: Page,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_field: str | None = None,
    saved: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "account.html",
        page,
        status_code=status_code,
        error=error,
        error_field=error_field,
        saved=saved,
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request) -> Response:
    """The caller's account: name, role, and the password form."""
    page = page_caller(request)
    if page is None:
        return show_login(request)
    return _account_page(request, page)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    current_password: _Secret = "",
    new_password: _Secret = "",
    confirm_password: _Secret = "",
    revoke_tokens: Annotated[bool, Form()] = False,
) -> Response:
    """Change the caller's password; the page again, saying what happened."""
    page = page_caller(request)
    if page is None:
        return show_login(request, next_url="/account")
    if not csrf_matches(csrf_token, page.csrf):
        return _account_page(request, page, status_code=422, error="The form expired: reload it.")
    if new_password != confirm_password:
        return _account_page(
            request,
            page,
            status_code=422,
            error="The new password and its confirmation differ: type them again.",
            error_field="confirm_password",
        )
    try:
        change = user_engine.change_password(
            db_of(request),
            user=page.user.id,
            current_password=current_password,
            new_password=new_password,
            keep_session=request.cookies.get(SESSION_COOKIE),
            revoke_tokens=revoke_tokens,
            address=client_address(request),
            policy=settings_of(request).login_policy,
        )
    except ThrottledError as refused:
        response = _account_page(
            request, page, status_code=429, error=str(refused), error_field="current_password"
        )
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    except ValidationError as exc:
        message = str(exc)
        return _account_page(
            request,
            page,
            status_code=422,
            error=message[:1].upper() + message[1:] + ".",
            error_field=exc.field,
        )
    ended = change.sessions_ended
    saved = f"Password changed. {ended} other session{'s' if ended != 1 else ''} ended" + (
        f", {change.tokens_revoked} API tokens revoked." if revoke_tokens else "."
    )
    return _account_page(request, page, saved=saved)
