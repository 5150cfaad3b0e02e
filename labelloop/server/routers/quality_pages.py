"""The web UI's suspect labels page: the queue a round's label check fills, most suspect
first, with the reviewers' precision at k, and a form per suspect to confirm or clear it.

Server-rendered over the same engine as the API (`labelloop.engine.quality`), under the
rules of `labelloop.server.web`; reviewers and admins only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from labelloop.engine import quality
from labelloop.exceptions import LabelloopError
from labelloop.server.deps import db_of
from labelloop.server.sessions import csrf_matches
from labelloop.server.web import Page, guarded, render_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_SHOWN = 100


def _suspects_page(
    request: Request,
    page: Page,
    project: Any,
    *,
    error: str | None = None,
    saved: str | None = None,
) -> Response:
    listing = quality.list_suspects(db_of(request), project=project.id, limit=_SHOWN)
    return render_form(
        request,
        "suspects.html",
        page,
        error=error,
        saved=saved,
        project=project,
        listing=listing,
    )


@router.get("/projects/{project_id}/suspects", response_class=HTMLResponse)
def suspects_page(request: Request, project_id: int) -> Response:
    """Suspect labels, most suspect first, with a confirm and a clear form each."""
    return guarded(
        request, project_id, "review", lambda page, project: _suspects_page(request, page, project)
    )


@router.post("/projects/{project_id}/suspects/{suspect_id}", response_class=HTMLResponse)
def rule_on_suspect(
    request: Request,
    project_id: int,
    suspect_id: int,
    verdict: Annotated[str, Form(max_length=20)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Confirm (with the right label) or clear one suspect, then show the queue again."""

    def build(page: Page, project: Any) -> Response:
        if not csrf_matches(csrf_token, page.csrf):
            return _suspects_page(request, page, project, error="The form expired: reload it.")
        try:
            ruled = quality.resolve_suspect(
                db_of(request),
                suspect_id=suspect_id,
                user=page.user,
                verdict=verdict,
                label=label or None,
                project=project.id,
            )
        except LabelloopError as exc:
            return _suspects_page(request, page, project, error=str(exc))
        return _suspects_page(
            request, page, project, saved=f"{ruled.item_external_id}: {ruled.status}"
        )

    return guarded(request, project_id, "review", build)
