"""The web UI's disagreements page (admin): where people disagree, grouped by confusion
and by cluster, the mislabelled clusters, each guideline version's rates, and a form that
turns the ticked items into guideline examples with a note, as a new version, in one step.

Server-rendered over the same engine as the API (`labelloop.engine.disagreements`,
`labelloop.engine.projects`), under the rules of `labelloop.server.web`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from labelloop.engine import disagreements
from labelloop.engine import projects as project_engine
from labelloop.exceptions import LabelloopError, ValidationError
from labelloop.server.deps import db_of
from labelloop.server.web import Page, admin_form, admin_page, render_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _disagreements_page(
    request: Request,
    page: Page,
    project: Any,
    *,
    error: str | None = None,
    saved: str | None = None,
    picked: frozenset[int] = frozenset(),
    note: str = "",
) -> Response:
    db = db_of(request)
    return render_form(
        request,
        "disagreements.html",
        page,
        error=error,
        saved=saved,
        project=project,
        report=disagreements.disagreement_report(db, project.id),
        versions=project_engine.guideline_versions(db, project.id),
        picked=picked,
        note=note,
    )


@router.get("/projects/{project_id}/disagreements", response_class=HTMLResponse)
def disagreements_page(request: Request, project_id: int) -> Response:
    """Disagreements by confusion and cluster, mislabelled clusters, rates per version."""
    return admin_page(request, project_id, _disagreements_page)


@router.post("/projects/{project_id}/disagreements", response_class=HTMLResponse)
async def add_examples(request: Request, project_id: int) -> Response:
    """The ticked items become guideline examples with the note: a new guideline version."""
    return await admin_form(request, project_id, show=_disagreements_page, change=_add_examples)


def _add_examples(request: Request, page: Page, project: Any, form: Any) -> Response:
    note = str(form.get("note", "")).replace("\r\n", "\n")
    raw = [str(v) for v in form.getlist("item_id")]
    picked = frozenset(int(v) for v in raw if v.isdigit() and len(v) < 19)
    try:
        if len(picked) != len(raw):
            raise ValidationError(
                "an example's item id is not a number: reload the page", field="item_id"
            )
        shown = project_engine.add_guideline_examples(
            db_of(request),
            actor=page.user.name,
            project=project.id,
            item_ids=sorted(picked),
            note=note,
        )
    except LabelloopError as exc:
        return _disagreements_page(request, page, project, error=str(exc), picked=picked, note=note)
    added = sum(e.version == shown.version for e in shown.examples)
    return _disagreements_page(
        request,
        page,
        project,
        saved=f"guideline version {shown.version} saved with {added} new examples",
    )
