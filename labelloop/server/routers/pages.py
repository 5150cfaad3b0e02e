"""The web UI: server-rendered pages (Jinja2, autoescaped) over the same engine as the API.

Pages authenticate with the ``labelloop_session`` cookie only; a page asked for without a
session answers the log-in form. Whether the caller may open a page is the one question
the API asks too (`labelloop.server.permissions.permission_allowed`); a page refused
answers 404, as for a project that is not there. Forms posted by pages carry the
session's CSRF token in a hidden ``csrf_token`` field, checked before anything changes.
The labelling and review pages hand over to small scripts in ``static/`` that talk to the
JSON API with the same cookie and the CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from starlette.datastructures import FormData

from labelloop.engine import agreement, browse, jobs
from labelloop.engine import projects as project_engine
from labelloop.engine import users as user_engine
from labelloop.engine.core.identity import UserInfo
from labelloop.exceptions import LabelloopError
from labelloop.server.permissions import member_scope, permission_allowed, role_allows
from labelloop.server.schemas import MAX_ID
from labelloop.server.sessions import SESSION_COOKIE, csrf_matches, end_session, start_session
from labelloop.server.settings import ServerSettings
from labelloop.store.db import Database

__all__ = ["render_markdown", "router"]

router = APIRouter(include_in_schema=False)

_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
_TEMPLATES.env.autoescape = True
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_NUMBER_SETTINGS = ("batch_size", "retrain_every", "overlap", "review_percent")


def _db(request: Request) -> Database:
    return request.app.state.db


def _settings(request: Request) -> ServerSettings:
    return request.app.state.settings


def render_markdown(text: str) -> str:
    """Guidelines as HTML: Markdown with raw HTML disabled, so nothing in them can run."""
    return _MARKDOWN.render(text or "")


class _Page:
    """The caller of a page: who they are and their session's CSRF token."""

    def __init__(self, user: UserInfo, csrf: str) -> None:
        self.user = user
        self.csrf = csrf


def _caller(request: Request) -> _Page | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    found = user_engine.session_user(_db(request), secret)
    # The web UI is for people: a model account's session opens no page.
    if found is None or not role_allows(found[0], "label"):
        return None
    return _Page(*found)


def _render(
    request: Request, template: str, page: _Page | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    user = page.user if page else None
    return _TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "me": user,
            "csrf": page.csrf if page else "",
            "may": functools.partial(_may, user),
            **context,
        },
        status_code=status_code,
    )


def _may(user: UserInfo | None, action: str) -> bool:
    """What a template asks before it shows a link: would the permission check allow it."""
    return user is not None and role_allows(user, action)


def _login_form(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return _render(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        next_url=target if target not in ("/", "/login") else "/projects",
    )


def _not_found(request: Request, page: _Page, what: str) -> HTMLResponse:
    return _render(request, "message.html", page, status_code=404, title="Not found", text=what)


def _project_for(request: Request, page: _Page, project_id: int, action: str):
    """The project's info when the caller may do ``action`` in it, else None."""
    db = _db(request)
    if not permission_allowed(db, page.user, action, project_id):
        return None
    try:
        return project_engine.get_project_info(db, project_id)
    except LabelloopError:  # deleted since the permission was checked
        return None


def _guarded(
    request: Request,
    project_id: int,
    action: str,
    build: Callable[[_Page, Any], Response],
) -> Response:
    page = _caller(request)
    if page is None:
        return _login_form(request)
    project = _project_for(request, page, project_id, action)
    if project is None:
        return _not_found(request, page, f"No project {project_id} here for you.")
    return build(page, project)


def _admin_form(
    request: Request,
    project_id: int,
    form: FormData,
    show: Callable[..., Response],
    change: Callable[[_Page, Any], Response],
) -> Response:
    """An admin's form posted: ``change`` applies it, unless its CSRF token is not the
    session's; then ``show`` answers the page again with the error."""

    def build(page: _Page, project: Any) -> Response:
        if not csrf_matches(str(form.get("csrf_token", "")), page.csrf):
            return show(request, page, project, error="The form expired: reload it.")
        return change(page, project)

    return _guarded(request, project_id, "administer", build)


def _safe_next(url: str | None) -> str:
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/projects"
    return url


# --------------------------------------------------------------------------- log-in


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The log-in form without a session; the project list with one."""
    if _caller(request) is None:
        return _login_form(request)
    return RedirectResponse("/projects", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """The log-in form (also what ``/`` shows without a session)."""
    return home(request)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/projects",
) -> Response:
    """Check the password, set the session cookie, and go where the user was heading."""
    db = _db(request)
    user = user_engine.verify_password(db, name, password) if name and password else None
    if user is None or not role_allows(user, "label"):
        return _render(
            request,
            "login.html",
            None,
            status_code=401,
            error="Wrong name or password.",
            next_url=_safe_next(next_url),
            name=name,
        )
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    start_session(response, db, user.id, secure=_settings(request).secure_cookies)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session (the form carries the CSRF token) and show the log-in form."""
    page = _caller(request)
    signed = page is not None and csrf_matches(csrf_token, page.csrf)
    response = RedirectResponse("/", status_code=303)
    end_session(response, _db(request), request.cookies[SESSION_COOKIE] if signed else None)
    return response


# --------------------------------------------------------------------------- projects


@router.get("/projects", response_class=HTMLResponse)
def project_list(request: Request) -> Response:
    """The caller's projects with their progress."""
    page = _caller(request)
    if page is None:
        return _login_form(request)
    found = project_engine.list_projects(_db(request), user_id=member_scope(page.user))
    return _render(request, "projects.html", page, projects=found)


@router.get("/projects/{project_id}/label", response_class=HTMLResponse)
def label_page(request: Request, project_id: int) -> Response:
    """The labelling view: one task at a time, keyboard first (the script does the work)."""

    def build(page: _Page, project: Any) -> Response:
        guidelines = project_engine.get_guidelines(_db(request), project.id)
        config = {
            "project_id": project.id,
            "labels": list(project.labels),
            "multi_label": project.multi_label,
            "task_type": project.task_type,
            "show_guess": bool(project.settings.get("show_model_guess", True)),
            "guideline_version": project.guideline_version,
            "user": page.user.name,
        }
        return _render(
            request,
            "label.html",
            page,
            project=project,
            config=config,
            guidelines_html=render_markdown(guidelines.text if guidelines else ""),
        )

    return _guarded(request, project_id, "label", build)


@router.get("/projects/{project_id}/guidelines", response_class=HTMLResponse)
def guidelines_fragment(request: Request, project_id: int) -> Response:
    """The guidelines in force, rendered: a fragment the labelling view loads on a new version."""

    def build(page: _Page, project: Any) -> Response:
        found = project_engine.get_guidelines(_db(request), project.id)
        return _render(
            request,
            "guidelines_fragment.html",
            page,
            version=found.version if found else 0,
            guidelines_html=render_markdown(found.text if found else ""),
        )

    return _guarded(request, project_id, "label", build)


@router.get("/projects/{project_id}/review", response_class=HTMLResponse)
def review_page(request: Request, project_id: int) -> Response:
    """The review queue: accept, reject with a note, or correct, by keyboard."""

    def build(page: _Page, project: Any) -> Response:
        config = {
            "project_id": project.id,
            "labels": list(project.labels),
            "multi_label": project.multi_label,
            "task_type": project.task_type,
        }
        return _render(request, "review.html", page, project=project, config=config)

    return _guarded(request, project_id, "review", build)


# --------------------------------------------------------------------------- admin


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def dashboard(request: Request, project_id: int) -> Response:
    """The project dashboard: counts, throughput, agreement, learning curve, rounds, verdict."""

    def build(page: _Page, project: Any) -> Response:
        from labelloop.engine import rounds as round_engine
        from labelloop.report.charts import learning_curve_svg

        db = _db(request)
        status = round_engine.project_status(db, project.id)
        quality = agreement.agreement_report(db, project.id)
        kappa = {row["name"]: row for row in quality["annotators"]}
        throughput = browse.annotator_throughput(db, project.id)
        recent = jobs.list_jobs(db, project_id=project.id, limit=5)
        return _render(
            request,
            "dashboard.html",
            page,
            project=project,
            status=status,
            quality=quality,
            kappa=kappa,
            throughput=throughput,
            jobs=recent,
            chart=learning_curve_svg(status.rounds),
            rounds=list(reversed(status.rounds)),
        )

    return _guarded(request, project_id, "review", build)


@router.post("/projects/{project_id}/retrain")
def retrain(
    request: Request, project_id: int, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Queue a retrain by hand (admin)."""

    def build(page: _Page, project: Any) -> Response:
        if not csrf_matches(csrf_token, page.csrf):
            return _render(request, "message.html", page, 403, title="Forbidden", text="Reload.")
        jobs.enqueue_retrain(_db(request), project_id=project.id, actor=page.user.name)
        return RedirectResponse(f"/projects/{project.id}", status_code=303)

    return _guarded(request, project_id, "administer", build)


def _settings_page(
    request: Request, page: _Page, project: Any, *, error: str | None = None, saved: str = ""
) -> Response:
    from labelloop.selection import STRATEGY_NAMES  # loads scikit-learn: only when needed

    guidelines = project_engine.get_guidelines(_db(request), project.id)
    policy = project.settings.get("review_policy", "none")
    return _render(
        request,
        "settings.html",
        page,
        status_code=422 if error else 200,
        project=project,
        strategies=STRATEGY_NAMES,
        policies=project_engine.REVIEW_POLICIES,
        policy=[policy] if isinstance(policy, str) else list(policy),
        guidelines=guidelines,
        error=error,
        saved=saved,
    )


@router.get("/projects/{project_id}/settings", response_class=HTMLResponse)
def settings_page(request: Request, project_id: int) -> Response:
    """The settings form and the guidelines editor (admin)."""
    return _guarded(request, project_id, "administer", functools.partial(_settings_page, request))


@router.post("/projects/{project_id}/settings", response_class=HTMLResponse)
async def save_settings(request: Request, project_id: int) -> Response:
    """Save the changed settings; a changed guidelines text becomes a new guideline version."""
    form = await request.form()

    def change(page: _Page, project: Any) -> Response:
        db = _db(request)
        changes: dict[str, Any] = {}
        try:
            strategy = str(form.get("strategy", project.strategy))
            if strategy != project.strategy:
                changes["strategy"] = strategy
            for key in _NUMBER_SETTINGS:
                raw = str(form.get(key, "")).strip()
                if raw == "":
                    continue
                try:
                    value = int(raw)
                except ValueError:
                    return _settings_page(
                        request, page, project, error=f"{key.replace('_', ' ')} must be a number"
                    )
                if value != project.settings.get(key):
                    changes[key] = value
            policies = [str(p) for p in form.getlist("review_policy")] or ["none"]
            policy: Any = policies[0] if len(policies) == 1 else policies
            if policy != project.settings.get("review_policy"):
                changes["review_policy"] = policy
            show = form.get("show_model_guess") == "on"
            if show != bool(project.settings.get("show_model_guess", True)):
                changes["show_model_guess"] = show
            if changes:
                project = project_engine.update_settings(
                    db, actor=page.user.name, project=project.id, changes=changes
                )
            text = str(form.get("guidelines", "")).replace("\r\n", "\n")
            current = project_engine.get_guidelines(db, project.id)
            saved = []
            if changes:
                saved.append("settings saved")
            if text.strip() and (current is None or text != current.text):
                version = project_engine.set_guidelines(
                    db, actor=page.user.name, project=project.id, text=text
                )
                saved.append(f"guidelines version {version} saved")
                project = project_engine.get_project_info(db, project.id)
        except LabelloopError as exc:
            return _settings_page(request, page, project, error=str(exc))
        return _settings_page(request, page, project, saved="; ".join(saved) or "nothing changed")

    return _admin_form(request, project_id, form, _settings_page, change)


def _members_page(
    request: Request, page: _Page, project: Any, *, error: str | None = None, secret: str = ""
) -> Response:
    db = _db(request)
    members = user_engine.list_members(db, project.id)
    member_ids = {m.id for m in members}
    tokens = [t for t in user_engine.list_tokens(db) if t.user_id in member_ids]
    others = [u for u in user_engine.list_users(db) if u.id not in member_ids]
    return _render(
        request,
        "members.html",
        page,
        status_code=422 if error else 200,
        project=project,
        members=members,
        tokens=tokens,
        others=others,
        error=error,
        secret=secret,
    )


@router.get("/projects/{project_id}/members", response_class=HTMLResponse)
def members_page(request: Request, project_id: int) -> Response:
    """Members and roles, and their API tokens (admin)."""
    return _guarded(request, project_id, "administer", functools.partial(_members_page, request))


@router.post("/projects/{project_id}/members", response_class=HTMLResponse)
async def change_members(request: Request, project_id: int) -> Response:
    """Add a new or existing user, remove a member, create or revoke a token (admin)."""
    form = await request.form()

    def change(page: _Page, project: Any) -> Response:
        db = _db(request)
        action = str(form.get("action", ""))
        secret = ""
        try:
            if action == "create_user":
                _user, secret = user_engine.create_user(
                    db,
                    actor=page.user.name,
                    name=str(form.get("name", "")).strip(),
                    role=str(form.get("role", "")),
                    password=str(form.get("password", "")) or None,
                    projects=[project.id],
                )
            elif action == "add":
                user_engine.add_member(
                    db, actor=page.user.name, project=project.id, user=int(form.get("user_id", 0))
                )
            elif action == "remove":
                user_engine.remove_member(
                    db, actor=page.user.name, project=project.id, user=int(form.get("user_id", 0))
                )
            elif action == "token":
                _info, secret = user_engine.create_token(
                    db, actor=page.user.name, user=int(form.get("user_id", 0)), name="web"
                )
            elif action == "revoke":
                user_engine.revoke_token(
                    db, actor=page.user.name, token_id=int(form.get("token_id", 0))
                )
            else:
                return _members_page(request, page, project, error=f"unknown action {action!r}")
        except (LabelloopError, ValueError) as exc:
            return _members_page(request, page, project, error=str(exc))
        return _members_page(request, page, project, secret=secret)

    return _admin_form(request, project_id, form, _members_page, change)


# --------------------------------------------------------------------------- item browser


@router.get("/projects/{project_id}/items", response_class=HTMLResponse)
def item_browser(
    request: Request,
    project_id: int,
    q: Annotated[str, Query(max_length=500)] = "",
    meta: Annotated[str, Query(max_length=500)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    label: Annotated[str, Query(max_length=200)] = "",
    annotator: Annotated[str, Query(max_length=200)] = "",
    min_score: Annotated[str, Query(max_length=40)] = "",
    max_score: Annotated[str, Query(max_length=40)] = "",
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """Search the pool by text and metadata; filter by status, label, annotator and score."""

    def build(page: _Page, project: Any) -> Response:
        filters = {
            "q": q,
            "meta": meta,
            "status": status,
            "label": label,
            "annotator": annotator,
            "min_score": min_score,
            "max_score": max_score,
        }
        error = None
        found = None
        try:
            bounds = [float(v) if v.strip() else None for v in (min_score, max_score)]
            found = browse.search_items(
                _db(request),
                project.id,
                text=q or None,
                meta=meta or None,
                status=status or None,
                label=label or None,
                annotator=annotator or None,
                min_score=bounds[0],
                max_score=bounds[1],
                limit=50,
                offset=offset,
            )
        except ValueError as exc:
            error = str(exc) if isinstance(exc, LabelloopError) else "scores must be numbers"
        query = urlencode({k: v for k, v in filters.items() if v})
        return _render(
            request,
            "items.html",
            page,
            status_code=422 if error else 200,
            project=project,
            filters=filters,
            statuses=browse.ITEM_STATUSES,
            found=found,
            error=error,
            query=query,
        )

    return _guarded(request, project_id, "review", build)


@router.get("/projects/{project_id}/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, project_id: int, item_id: int) -> Response:
    """One item with its whole history: predictions, annotations, reviews, audit events."""

    def build(page: _Page, project: Any) -> Response:
        try:
            if not 0 < item_id < MAX_ID:
                raise LookupError(item_id)
            history = browse.item_history(_db(request), project_id=project.id, item_id=item_id)
        except LookupError:
            return _not_found(request, page, f"No item {item_id} in this project.")
        return _render(
            request,
            "item.html",
            page,
            project=project,
            item=history,
        )

    return _guarded(request, project_id, "review", build)
