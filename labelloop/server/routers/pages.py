"""The web UI's pages for everyone who labels: log-in, the project list, labelling, review.

Server-rendered (Jinja2) over the same engine as the API, under the rules of
`labelloop.server.web`. The labelling and review pages hand over to small scripts in
``static/`` that talk to the JSON API with the same cookie and the CSRF token in
``X-CSRF-Token``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from labelloop.engine import feedback
from labelloop.engine import projects as project_engine
from labelloop.engine import users as user_engine
from labelloop.engine.core.settings import DEFAULT_SETTINGS, hides_model_guess
from labelloop.exceptions import ThrottledError
from labelloop.server.deps import client_address, db_of, settings_of
from labelloop.server.permissions import member_scope, role_allows
from labelloop.server.sessions import SESSION_COOKIE, csrf_matches, end_session, start_session
from labelloop.server.web import (
    Page,
    guarded,
    page_caller,
    render,
    render_markdown,
    safe_next,
    show_login,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


# --------------------------------------------------------------------------- log-in


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The log-in form without a session; the project list with one."""
    if page_caller(request) is None:
        return show_login(request)
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
    db = db_of(request)
    try:
        user = (
            user_engine.check_login(
                db,
                name=name,
                password=password,
                address=client_address(request),
                policy=settings_of(request).login_policy,
            )
            if name and password
            else None
        )
    except ThrottledError as refused:
        return show_login(request, failed_as=name, next_url=next_url, refused=refused)
    if user is None or not role_allows(user, "label"):
        return show_login(request, failed_as=name, next_url=next_url)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    start_session(response, db, user.id, secure=settings_of(request).secure_cookies)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session (the form carries the CSRF token) and show the log-in form."""
    page = page_caller(request)
    signed = page is not None and csrf_matches(csrf_token, page.csrf)
    response = RedirectResponse("/", status_code=303)
    end_session(response, db_of(request), request.cookies[SESSION_COOKIE] if signed else None)
    return response


# --------------------------------------------------------------------------- projects


@router.get("/projects", response_class=HTMLResponse)
def project_list(request: Request) -> Response:
    """The caller's projects with their progress."""
    page = page_caller(request)
    if page is None:
        return show_login(request)
    found = project_engine.list_projects(db_of(request), user_id=member_scope(page.user))
    return render(request, "projects.html", page, projects=found)


@router.get("/projects/{project_id}/label", response_class=HTMLResponse)
def label_page(request: Request, project_id: int) -> Response:
    """The labelling view: one task at a time, keyboard first (the script does the work)."""

    def build(page: Page, project: Any) -> Response:
        guidelines = project_engine.get_guidelines(db_of(request), project.id)
        config = {
            "project_id": project.id,
            "labels": list(project.labels),
            "multi_label": project.multi_label,
            "task_type": project.task_type,
            "show_guess": not hides_model_guess(project.settings, page.user.role),
            "guideline_version": project.guideline_version,
            "user": page.user.name,
            "skip_reasons": list(
                (project.settings or {}).get("skip_reasons", DEFAULT_SETTINGS["skip_reasons"])
            ),
        }
        return render(
            request,
            "label.html",
            page,
            project=project,
            config=config,
            guidelines=guidelines,
            guidelines_html=render_markdown(guidelines.text if guidelines else ""),
        )

    return guarded(request, project_id, "label", build)


@router.get("/projects/{project_id}/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, project_id: int) -> Response:
    """My feedback: the caller's labels a reviewer rejected or corrected, with the note,
    the reviewer's label and the item; opening it marks them seen (the new ones stay
    marked on this page)."""

    def build(page: Page, project: Any) -> Response:
        db = db_of(request)
        found = feedback.my_feedback(db, project=project.id, user=page.user, limit=200)
        feedback.mark_feedback_seen(db, project=project.id, user=page.user)
        return render(request, "feedback.html", page, project=project, found=found)

    return guarded(request, project_id, "label", build)


@router.get("/projects/{project_id}/guidelines", response_class=HTMLResponse)
def guidelines_fragment(request: Request, project_id: int) -> Response:
    """The guidelines in force, rendered: a fragment the labelling view loads on a new version."""

    def build(page: Page, project: Any) -> Response:
        found = project_engine.get_guidelines(db_of(request), project.id)
        return render(
            request,
            "guidelines_fragment.html",
            page,
            version=found.version if found else 0,
            guidelines=found,
            guidelines_html=render_markdown(found.text if found else ""),
        )

    return guarded(request, project_id, "label", build)


@router.get("/projects/{project_id}/review", response_class=HTMLResponse)
def review_page(request: Request, project_id: int) -> Response:
    """The review queue: accept, reject with a note, or correct, by keyboard."""

    def build(page: Page, project: Any) -> Response:
        config = {
            "project_id": project.id,
            "labels": list(project.labels),
            "multi_label": project.multi_label,
            "task_type": project.task_type,
        }
        return render(request, "review.html", page, project=project, config=config)

    return guarded(request, project_id, "review", build)
