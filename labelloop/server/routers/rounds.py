"""Rounds of the loop: their history and metrics, the project's status and forecast,
retrain jobs, and the auto-labels rounds write (listed; resumed after spot checks paused
them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from labelloop.engine import auto_labels, jobs
from labelloop.server import deps
from labelloop.server.schemas import (
    AutoLabelPublic,
    JobInfo,
    RoundPublic,
    StatusPublic,
    WorthPublic,
)

__all__ = ["router"]

router = APIRouter(tags=["rounds"], route_class=deps.GuardedRoute)


@router.get(
    "/projects/{project_id}/rounds",
    response_model=list[RoundPublic],
    dependencies=[deps.MemberOnly],
)
def list_rounds(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """The project's rounds with their metrics, oldest first."""
    # Imported here: the rounds engine pulls in scikit-learn, which the service loads lazily.
    from labelloop.engine import rounds as round_engine

    return round_engine.list_rounds(db, project.id)


@router.get("/projects/{project_id}/status", response_model=StatusPublic)
def project_status(project: deps.ProjectMember, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """Counts, rounds and the stopping-criteria verdict."""
    from labelloop.engine import rounds as round_engine

    return round_engine.project_status(db, project.id)


@router.get("/projects/{project_id}/forecast", response_model=WorthPublic)
def project_forecast(project: deps.ProjectMember, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """Labels left to the target score, the time at the team's pace, and savings against random."""
    from labelloop.engine import rounds as round_engine

    return WorthPublic.model_validate(round_engine.project_worth(db, project.id))


@router.post(
    "/projects/{project_id}/retrain",
    response_model=JobInfo,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[deps.AdminOnly],
)
def retrain(project: deps.ProjectMember, user: deps.CurrentUser, db: deps.DbDep) -> Any:
    """Queue a retrain (admin); the worker runs it, then the queue is re-prioritised."""
    return jobs.enqueue_retrain(db, actor=deps.actor_for(user), project_id=project.id)


@router.get(
    "/projects/{project_id}/jobs", response_model=list[JobInfo], dependencies=[deps.AdminOnly]
)
def list_jobs(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """The project's newest jobs first (admin)."""
    return jobs.list_jobs(db, project_id=project.id)


@router.get(
    "/projects/{project_id}/auto-labels",
    response_model=list[AutoLabelPublic],
    dependencies=[deps.MemberOnly],
)
def list_auto_labels(
    project: deps.ProjectMember,
    db: deps.DbDep,
    limit: int = Query(100, ge=1, le=10_000),
    spot_checks_only: bool = False,
) -> Any:
    """The project's auto-labels, newest first, with what certified each."""
    return auto_labels.list_auto_labels(
        db, project.id, limit=limit, spot_checks_only=spot_checks_only
    )


@router.post(
    "/projects/{project_id}/auto-labels/resume",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[deps.AdminOnly],
)
def resume_auto_labelling(
    project: deps.ProjectMember, user: deps.CurrentUser, db: deps.DbDep
) -> None:
    """Resume auto-labelling after spot checks paused it (admin)."""
    auto_labels.resume_auto_labelling(db, actor=deps.actor_for(user), project=project.id)
