"""The web UI's pages of a project for reviewers and admins: the dashboard, the settings
and members forms, the item browser and an item's history.

Server-rendered (Jinja2) over the same engine as the API, under the rules of
`labelloop.server.web`.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from labelloop.engine import agreement, auto_labels, browse, jobs, label_studio
from labelloop.engine import projects as project_engine
from labelloop.engine import quality as quality_engine
from labelloop.engine import users as user_engine
from labelloop.engine.core.settings import REVIEW_POLICIES, SETTINGS, Setting
from labelloop.exceptions import LabelloopError, ValidationError
from labelloop.server.deps import db_of
from labelloop.server.schemas import MAX_ID
from labelloop.server.sessions import csrf_matches
from labelloop.server.web import (
    Page,
    admin_form,
    admin_page,
    guarded,
    not_found,
    render,
    render_form,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# The settings the form edits, in the order of the one settings table.
_FORM_SETTINGS = tuple(setting for setting in SETTINGS if setting.in_form)


class _FormValueError(ValueError):
    """A form field that is not of its setting's kind (the message is for the page)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _form_value(setting: Setting, form: Any) -> tuple[bool, Any]:
    """(given, value) of one setting from the submitted form, by the setting's kind.

    An empty number field leaves the setting as it is, except for a setting whose default
    is None, which it clears.
    """
    if setting.kind == "bool":
        return True, form.get(setting.name) == "on"
    if setting.kind == "policy":
        policies = [str(p) for p in form.getlist(setting.name)] or ["none"]
        return True, policies[0] if len(policies) == 1 else policies
    if setting.kind == "choice":
        return True, str(form.get(setting.name, setting.default))
    raw = str(form.get(setting.name, "")).strip()
    if raw == "":
        return setting.default is None, None
    try:
        number = float(raw) if setting.kind == "number" else int(raw)
    except ValueError:
        raise _FormValueError(
            f"{setting.name.replace('_', ' ')} must be a number", field=setting.name
        ) from None
    return True, int(number) if float(number).is_integer() else number


# --------------------------------------------------------------------------- admin


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def dashboard(request: Request, project_id: int) -> Response:
    """The project dashboard: counts, throughput, agreement, learning curve and its forecast,
    savings against random, rounds, verdict."""

    def build(page: Page, project: Any) -> Response:
        from labelloop.engine import rounds as round_engine
        from labelloop.report.charts import learning_curve_svg

        db = db_of(request)
        status = round_engine.project_status(db, project.id)
        worth = round_engine.project_worth(db, project.id)
        quality = agreement.agreement_report(db, project.id)
        kappa = {row["name"]: row for row in quality["annotators"]}
        throughput = browse.annotator_throughput(db, project.id)
        recent = jobs.list_jobs(db, project_id=project.id, limit=5)
        suspects = quality_engine.list_suspects(db, project=project.id, limit=5)
        return render(
            request,
            "dashboard.html",
            page,
            project=project,
            status=status,
            quality=quality,
            kappa=kappa,
            throughput=throughput,
            show_flags=any(a.flagged is not None for a in throughput),
            show_comments=any(a.commented is not None for a in throughput),
            jobs=recent,
            suspects=suspects,
            worth=worth,
            chart=learning_curve_svg(status.rounds, band=worth.band, target=worth.target),
            rounds=list(reversed(status.rounds)),
        )

    return guarded(request, project_id, "review", build)


@router.post("/projects/{project_id}/retrain")
def retrain(
    request: Request, project_id: int, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Queue a retrain by hand (admin)."""

    def build(page: Page, project: Any) -> Response:
        if not csrf_matches(csrf_token, page.csrf):
            return render(request, "message.html", page, 403, title="Forbidden", text="Reload.")
        jobs.enqueue_retrain(db_of(request), project_id=project.id, actor=page.user.name)
        return RedirectResponse(f"/projects/{project.id}", status_code=303)

    return guarded(request, project_id, "administer", build)


@router.post("/projects/{project_id}/auto-labels/resume")
def resume_auto_labelling(
    request: Request, project_id: int, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Resume auto-labelling after spot checks paused it (admin)."""

    def build(page: Page, project: Any) -> Response:
        if not csrf_matches(csrf_token, page.csrf):
            return render(request, "message.html", page, 403, title="Forbidden", text="Reload.")
        # Not paused (a second click) is no error here: the dashboard shows it running.
        with contextlib.suppress(ValidationError):
            auto_labels.resume_auto_labelling(
                db_of(request), actor=page.user.name, project=project.id
            )
        return RedirectResponse(f"/projects/{project.id}", status_code=303)

    return guarded(request, project_id, "administer", build)


def _stored_values(project: Any, guidelines: Any) -> dict[str, Any]:
    """What the settings form shows for the stored settings: policies as a list, numbers
    as text ("" for none), flags as booleans, the strategy and the guidelines text."""
    values: dict[str, Any] = {
        "strategy": project.strategy,
        "guidelines": guidelines.text if guidelines else "",
    }
    for setting in _FORM_SETTINGS:
        value = project.settings.get(setting.name)
        if setting.kind == "policy":
            value = [value or "none"] if isinstance(value, str | None) else list(value)
        elif setting.kind != "bool":
            value = "" if value is None else str(value)
        values[setting.name] = value
    return values


def _submitted_values(form: Any) -> dict[str, Any]:
    """What the settings form shows after a refused save: exactly what was submitted."""
    values: dict[str, Any] = {
        "strategy": str(form.get("strategy", "")),
        "guidelines": str(form.get("guidelines", "")).replace("\r\n", "\n"),
    }
    for setting in _FORM_SETTINGS:
        if setting.kind == "bool":
            values[setting.name] = form.get(setting.name) == "on"
        elif setting.kind == "policy":
            values[setting.name] = [str(p) for p in form.getlist(setting.name)]
        else:
            values[setting.name] = str(form.get(setting.name, ""))
    return values


def _error_field(exc: Exception) -> str | None:
    """The form field an error names (its last dotted part), when the form has it."""
    field = getattr(exc, "field", None)
    names = {"strategy", "guidelines", *(setting.name for setting in _FORM_SETTINGS)}
    last = str(field).rsplit(".", 1)[-1] if field else None
    return last if last in names else None


def _settings_page(
    request: Request,
    page: Page,
    project: Any,
    *,
    error: str | None = None,
    saved: str = "",
    submitted: dict[str, Any] | None = None,
    error_field: str | None = None,
) -> Response:
    from labelloop.selection import STRATEGY_NAMES  # loads scikit-learn: only when needed

    guidelines = project_engine.get_guidelines(db_of(request), project.id)
    # What Label Studio's model connection needs, as `labelloop label-studio connect` prints.
    label_studio_url = f"{str(request.base_url).rstrip('/')}/label-studio/{project.id}"
    return render_form(
        request,
        "settings.html",
        page,
        error=error,
        error_field=error_field,
        project=project,
        strategies=STRATEGY_NAMES,
        fields=_FORM_SETTINGS,
        policies=REVIEW_POLICIES,
        values=submitted or _stored_values(project, guidelines),
        guidelines=guidelines,
        saved=saved,
        label_studio_url=label_studio_url,
        label_studio_config=label_studio.project_label_config(db_of(request), project.id),
    )


@router.get("/projects/{project_id}/settings", response_class=HTMLResponse)
def settings_page(request: Request, project_id: int) -> Response:
    """The settings form and the guidelines editor (admin)."""
    return admin_page(request, project_id, _settings_page)


@router.post("/projects/{project_id}/settings", response_class=HTMLResponse)
async def save_settings(request: Request, project_id: int) -> Response:
    """Save the changed settings; a changed guidelines text becomes a new guideline version."""
    return await admin_form(request, project_id, show=_settings_page, change=_save_settings)


def _save_settings(request: Request, page: Page, project: Any, form: Any) -> Response:
    db = db_of(request)
    changes: dict[str, Any] = {}
    try:
        strategy = str(form.get("strategy", project.strategy))
        if strategy != project.strategy:
            changes["strategy"] = strategy
        for setting in _FORM_SETTINGS:
            given, value = _form_value(setting, form)
            if given and value != project.settings.get(setting.name):
                changes[setting.name] = value
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
    except (LabelloopError, _FormValueError) as exc:
        # The form comes back as submitted, not as stored: the error at its field.
        return _settings_page(
            request,
            page,
            project,
            error=str(exc),
            submitted=_submitted_values(form),
            error_field=_error_field(exc),
        )
    return _settings_page(request, page, project, saved="; ".join(saved) or "nothing changed")


def _members_page(
    request: Request, page: Page, project: Any, *, error: str | None = None, secret: str = ""
) -> Response:
    db = db_of(request)
    members = user_engine.list_members(db, project.id)
    member_ids = {m.id for m in members}
    tokens = [t for t in user_engine.list_tokens(db) if t.user_id in member_ids]
    others = [u for u in user_engine.list_users(db) if u.id not in member_ids]
    return render_form(
        request,
        "members.html",
        page,
        error=error,
        project=project,
        members=members,
        tokens=tokens,
        others=others,
        secret=secret,
    )


@router.get("/projects/{project_id}/members", response_class=HTMLResponse)
def members_page(request: Request, project_id: int) -> Response:
    """Members and roles, and their API tokens (admin)."""
    return admin_page(request, project_id, _members_page)


@router.post("/projects/{project_id}/members", response_class=HTMLResponse)
async def change_members(request: Request, project_id: int) -> Response:
    """Add a new or existing user, remove a member, create or revoke a token (admin)."""
    return await admin_form(request, project_id, show=_members_page, change=_change_members)


def _change_members(request: Request, page: Page, project: Any, form: Any) -> Response:
    db = db_of(request)
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


# --------------------------------------------------------------------------- item browser


# The browser's columns a header sorts by, in the order of the table.
_SORT_COLUMNS = (
    ("external_id", "external id"),
    ("status", "status"),
    ("label", "label"),
    ("score", "score"),
    ("skips", "skips"),
)


def _sort_links(filters: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per sortable column: the query that sorts by it (the other way round when it is the
    current sort) and its ``aria-sort`` state."""
    current = filters.get("sort", "")
    links = {}
    for column, _title in _SORT_COLUMNS:
        state = "none"
        target = column
        if current == column:
            state, target = "ascending", f"-{column}"
        elif current == f"-{column}":
            state = "descending"
        query = {k: v for k, v in filters.items() if v and k != "sort"}
        query["sort"] = target
        links[column] = {"query": urlencode(query), "state": state}
    return links


def _item_browser(
    request: Request,
    page: Page,
    project: Any,
    filters: dict[str, str],
    offset: int = 0,
    *,
    error: str | None = None,
    saved: str = "",
) -> Response:
    db = db_of(request)
    found = None
    try:
        bounds = [
            float(v) if v.strip() else None for v in (filters["min_score"], filters["max_score"])
        ]
        found = browse.search_items(
            db,
            project.id,
            text=filters["q"] or None,
            meta=filters["meta"] or None,
            status=filters["status"] or None,
            label=filters["label"] or None,
            annotator=filters["annotator"] or None,
            min_score=bounds[0],
            max_score=bounds[1],
            skipped=bool(filters["skipped"]),
            sort=filters["sort"] or None,
            limit=50,
            offset=offset,
        )
    except ValueError as exc:
        if error is None:
            error = str(exc) if isinstance(exc, LabelloopError) else "scores must be numbers"
    query = urlencode({k: v for k, v in filters.items() if v})
    return render_form(
        request,
        "items.html",
        page,
        error=error,
        project=project,
        filters=filters,
        statuses=browse.ITEM_STATUSES,
        found=found,
        query=query,
        columns=_SORT_COLUMNS,
        sorts=_sort_links(filters),
        saved_filters=[
            {"id": f.id, "name": f.name, "query": urlencode(f.filters), "by": f.created_by}
            for f in browse.list_saved_filters(db, project.id)
        ],
        saved=saved,
    )


def _filters_of(values: Any) -> dict[str, str]:
    """The browser's fields from a query or a form, each as text ("" when absent)."""
    filters = {key: str(values.get(key, "") or "")[:500] for key in browse.FILTER_KEYS}
    filters["skipped"] = "1" if filters["skipped"] in ("1", "on", "true") else ""
    return filters


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
    skipped: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(max_length=20)] = "",
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """Search the pool by text and metadata; filter by status, label, annotator, score and
    skipped; sort by a column; save the filter under a name (admins) and re-apply one."""
    filters = _filters_of(
        {
            "q": q,
            "meta": meta,
            "status": status,
            "label": label,
            "annotator": annotator,
            "min_score": min_score,
            "max_score": max_score,
            "skipped": skipped,
            "sort": sort,
        }
    )

    def build(page: Page, project: Any) -> Response:
        return _item_browser(request, page, project, filters, offset)

    return guarded(request, project_id, "review", build)


@router.post("/projects/{project_id}/items/filters", response_class=HTMLResponse)
async def change_saved_filters(request: Request, project_id: int) -> Response:
    """Save the browser's current filter under a name, or delete a saved one (admin)."""

    def show(request: Request, page: Page, project: Any, *, error: str | None = None) -> Response:
        return _item_browser(request, page, project, _filters_of({}), error=error)

    return await admin_form(request, project_id, show=show, change=_change_saved_filters)


def _change_saved_filters(request: Request, page: Page, project: Any, form: Any) -> Response:
    db = db_of(request)
    filters = _filters_of(form)
    action = str(form.get("action", ""))
    try:
        if action == "save":
            found = browse.save_filter(
                db,
                actor=page.user.name,
                project=project.id,
                name=str(form.get("name", "")),
                filters=filters,
            )
            return _item_browser(
                request, page, project, filters, saved=f"filter “{found.name}” saved"
            )
        if action == "delete":
            browse.delete_saved_filter(
                db,
                actor=page.user.name,
                project=project.id,
                filter_id=int(form.get("filter_id", 0)),
            )
            return _item_browser(request, page, project, filters, saved="filter deleted")
        error = f"unknown action {action!r}"
    except (LabelloopError, ValueError) as exc:
        error = str(exc)
    return _item_browser(request, page, project, filters, error=error)


@router.get("/projects/{project_id}/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, project_id: int, item_id: int) -> Response:
    """One item with its whole history: predictions, annotations, reviews, audit events."""

    def build(page: Page, project: Any) -> Response:
        try:
            if not 0 < item_id < MAX_ID:
                raise LookupError(item_id)
            history = browse.item_history(db_of(request), project_id=project.id, item_id=item_id)
        except LookupError:
            return not_found(request, page, f"No item {item_id} in this project.")
        return render(
            request,
            "item.html",
            page,
            project=project,
            item=history,
        )

    return guarded(request, project_id, "review", build)
