"""The fairness page: the report of `labelloop.engine.fairness` as per-group bars."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from labelloop.engine import fairness
from labelloop.server.deps import db_of
from labelloop.server.web import Page, guarded, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/fairness", response_class=HTMLResponse)
def fairness_page(request: Request, project_id: int) -> Response:
    """Per group: shares of the pool, labels and evaluation set, and the model's accuracy
    with its interval, as bars; the flags in words."""

    def build(page: Page, project: Any) -> Response:
        report = fairness.fairness_report(db_of(request), project=project.id)
        return render(request, "fairness.html", page, project=project, report=report)

    return guarded(request, project_id, "review", build)
