"""What every page of the web UI shares: its caller, the permission check, rendering.

Rules the pages keep:

1. Pages authenticate with the ``labelloop_session`` cookie only (`page_caller`); a page
   asked for without a session answers the log-in form (saying so when the cookie's
   session has expired), and a model account's session opens no page.
2. Whether the caller may open a page of a project is the one question the API asks too
   (`labelloop.server.permissions.permission_allowed`). A member of the project whose role
   may not open the page gets 403 "Not allowed", naming the roles that may; a project
   out of the caller's reach answers 404, as for one that is not there, whatever the
   role (`guarded`), so pages leak no project's existence.
3. A form posted by a page carries the session's CSRF token in a hidden ``csrf_token``
   field, checked before anything changes (`admin_form`, and the log-out form).
4. Templates are autoescaped; guidelines are Markdown with raw HTML disabled.
5. Numbers read the same on every page: counts with thousands separators (the ``count``
   filter), other measures with 3 decimals (``decimal``); ``static/common.js`` formats
   the numbers scripts write by the same rule.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from starlette.datastructures import FormData

from labelloop.engine import feedback
from labelloop.engine import projects as project_engine
from labelloop.engine import users as user_engine
from labelloop.engine.core.identity import UserInfo
from labelloop.exceptions import LabelloopError, ThrottledError
from labelloop.server.deps import db_of, settings_of
from labelloop.server.permissions import (
    ACTION_ROLES,
    permission_allowed,
    project_reachable,
    role_allows,
)
from labelloop.server.sessions import SESSION_COOKIE, csrf_matches

__all__ = [
    "Page",
    "admin_form",
    "admin_page",
    "format_count",
    "format_decimal",
    "guarded",
    "not_allowed",
    "not_found",
    "page_caller",
    "render",
    "render_form",
    "render_markdown",
    "safe_next",
    "show_login",
]

_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_TEMPLATES.env.autoescape = True


def format_count(value: Any) -> str:
    """Rule 5: a count, with thousands separators ("12,345"); "–" for none."""
    return "–" if value is None else f"{int(value):,}"


def format_decimal(value: Any, places: int = 3) -> str:
    """Rule 5: any other measure with 3 decimals ("0.522", "0.596"); "–" for none."""
    return "–" if not isinstance(value, int | float) else f"{value:,.{places}f}"


# The hues of entity types by their key (static/spans.js keeps the same list).
_ENTITY_HUES = (210, 0, 125, 38, 280, 175, 325, 85, 250, 18)


def entity_hue(index: int) -> int:
    """The hue of the entity type at ``index`` of the labels: ten far apart, then round
    the circle by the golden angle."""
    return _ENTITY_HUES[index] if 0 <= index < len(_ENTITY_HUES) else round(index * 137.5) % 360


def span_pieces(text: Any, spans: Any, labels: Any = ()) -> list[dict[str, Any]]:
    """``text`` cut at its spans' edges: ``{text, label, hue}`` pieces in order (label None
    between entities); spans that do not fit the text are left out."""
    if not isinstance(text, str):
        return []
    order = list(labels or ())
    pieces: list[dict[str, Any]] = []
    at = 0
    fitting = [
        s
        for s in (spans if isinstance(spans, list) else [])
        if isinstance(s, dict) and isinstance(s.get("start"), int) and isinstance(s.get("end"), int)
    ]
    for span in sorted(fitting, key=lambda s: s["start"]):
        start, end = span["start"], span["end"]
        if start < at or end > len(text) or end <= start:
            continue
        if start > at:
            pieces.append({"text": text[at:start], "label": None, "hue": None})
        label = str(span.get("label", ""))
        index = order.index(label) if label in order else len(order)
        pieces.append({"text": text[start:end], "label": label, "hue": entity_hue(index)})
        at = end
    if at < len(text):
        pieces.append({"text": text[at:], "label": None, "hue": None})
    return pieces


def label_text(value: Any, text: Any = None) -> str:
    """A label in words: a name, names joined, a box label as ``3 boxes: square,
    circle, circle``, or an entity label's spans as ``“words” type`` (the types alone
    without the text); "–" for none."""
    if isinstance(value, str):
        return value
    if not value:
        return "–"
    if isinstance(value, list) and all(isinstance(v, dict) and "bbox" in v for v in value):
        names = ", ".join(str(v.get("label", "")) for v in value)
        return f"{len(value)} box{'' if len(value) == 1 else 'es'}: {names}"
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return " · ".join(
            (f"“{text[v.get('start', 0) : v.get('end', 0)]}” " if isinstance(text, str) else "")
            + str(v.get("label", ""))
            for v in value
        )
    return ", ".join(str(v) for v in value)


_TEMPLATES.env.filters["count"] = format_count
_TEMPLATES.env.filters["label_text"] = label_text
_TEMPLATES.env.filters["decimal"] = format_decimal
_TEMPLATES.env.globals["span_pieces"] = span_pieces
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    """Guidelines as HTML: Markdown with raw HTML disabled, so nothing in them can run."""
    return _MARKDOWN.render(text or "")


class Page:
    """The caller of a page: who they are and their session's CSRF token."""

    def __init__(self, user: UserInfo, csrf: str) -> None:
        self.user = user
        self.csrf = csrf


def page_caller(request: Request) -> Page | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    found = user_engine.session_user(db_of(request), secret, idle=settings_of(request).session_idle)
    # The web UI is for people: a model account's session opens no page.
    if found is None or not role_allows(found[0], "label"):
        return None
    return Page(*found)


def render(
    request: Request, template: str, page: Page | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    user = page.user if page else None
    return _TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "me": user,
            "csrf": page.csrf if page else "",
            "may": functools.partial(_may, user),
            "unread_feedback": functools.partial(_unread_feedback, request, user),
            **context,
        },
        status_code=status_code,
    )


def _unread_feedback(request: Request, user: UserInfo | None, project_id: int) -> int:
    """What the header's "My feedback" count asks: the caller's unread reviews."""
    if user is None:
        return 0
    return feedback.unread_feedback(db_of(request), project=project_id, user=user)


def _may(user: UserInfo | None, action: str) -> bool:
    """What a template asks before it shows a link: would the permission check allow it."""
    return user is not None and role_allows(user, action)


def show_login(
    request: Request,
    *,
    failed_as: str | None = None,
    next_url: str | None = None,
    refused: ThrottledError | None = None,
) -> Response:
    """The log-in form, leading on to the page asked for, or to ``next_url`` (made safe);
    after a failed try by ``failed_as``: the error, their name filled in, and 401 (429
    with ``Retry-After`` when attempts are ``refused`` for now). A request that still
    carries a session cookie whose session has ended is told so, and the cookie goes."""
    if next_url is None:
        next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if next_url in ("/", "/login"):
            next_url = "/projects"
    else:
        next_url = safe_next(next_url)
    stale = failed_as is None and bool(request.cookies.get(SESSION_COOKIE))
    if refused is not None:
        status_code, error = 429, str(refused)
    elif failed_as is not None:
        status_code, error = 401, "Wrong name or password."
    else:
        status_code, error = 200, None
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        notice="Your session has expired: log in again." if stale else None,
        next_url=next_url,
        name=failed_as,
    )
    if refused is not None:
        response.headers["Retry-After"] = str(refused.retry_after)
    if stale:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def not_found(request: Request, page: Page, what: str) -> HTMLResponse:
    """The 404 page, saying what is not there."""
    return render(request, "message.html", page, status_code=404, title="Not found", text=what)


def not_allowed(request: Request, page: Page, action: str) -> HTMLResponse:
    """The 403 page: the caller's role may not ``action``; it says which roles may."""
    roles = [role for role in ACTION_ROLES[action] if role != "model"]
    needed = " or ".join(f"{role}s" for role in roles)
    text = (
        f"This page is for {needed}; you are logged in as {page.user.name}, "
        f"{_article(page.user.role)} {page.user.role}. Ask an admin for that role if your "
        "work needs it."
    )
    return render(request, "message.html", page, status_code=403, title="Not allowed", text=text)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _project_for(request: Request, page: Page, project_id: int, action: str):
    """The project's info when the caller may do ``action`` in it, else None."""
    db = db_of(request)
    if not permission_allowed(db, page.user, action, project_id):
        return None
    try:
        return project_engine.get_project_info(db, project_id)
    except LabelloopError:  # deleted since the permission was checked
        return None


def guarded(
    request: Request,
    project_id: int,
    action: str,
    build: Callable[[Page, Any], Response],
) -> Response:
    page = page_caller(request)
    if page is None:
        return show_login(request)
    if not role_allows(page.user, action) and project_reachable(
        db_of(request), page.user, project_id
    ):
        return not_allowed(request, page, action)
    project = _project_for(request, page, project_id, action)
    if project is None:
        return not_found(request, page, f"No project {project_id} here for you.")
    return build(page, project)


def render_form(
    request: Request, template: str, page: Page, *, error: str | None, **context: Any
) -> HTMLResponse:
    """A page with a form: 422 when it shows the form's ``error``, else 200."""
    return render(
        request, template, page, status_code=422 if error else 200, error=error, **context
    )


def admin_page(request: Request, project_id: int, show: Callable[..., Response]) -> Response:
    """An admin's form page, answered by ``show(request, page, project)``."""
    return guarded(request, project_id, "administer", functools.partial(show, request))


async def admin_form(
    request: Request,
    project_id: int,
    *,
    show: Callable[..., Response],
    change: Callable[[Request, Page, Any, FormData], Response],
) -> Response:
    """An admin's form posted: ``change(request, page, project, form)`` applies it, unless
    its CSRF token is not the session's; then ``show`` answers the page again with the error."""
    form = await request.form()

    def build(page: Page, project: Any) -> Response:
        if not csrf_matches(str(form.get("csrf_token", "")), page.csrf):
            return show(request, page, project, error="The form expired: reload it.")
        return change(request, page, project, form)

    return guarded(request, project_id, "administer", build)


def safe_next(url: str | None) -> str:
    """``url`` when it leads to a page of this site, else the project list."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/projects"
    return url
