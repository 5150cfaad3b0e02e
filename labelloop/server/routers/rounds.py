"""Rounds of the loop: their history and metrics, the project's status, retrain jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, field_validator

from labelloop.engine import jobs
from labelloop.server.deps import (
    MEMBERS,
    AdminOnly,
    CurrentUser,
    DbDep,
    GuardedRoute,
    HumanUser,
    ProjectMember,
    actor_for,
    require_roles,
)

__all__ = ["router"]

router = APIRouter(tags=["rounds"], route_class=GuardedRoute)


class RoundPublic(BaseModel):
    """One turn of the loop: data trained on, model produced, batch picked, metrics."""

    number: int
    strategy: str
    dataset_version: int | None
    model_version: int | None
    n_labels: int
    batch: list[str]
    metrics: dict[str, Any]
    created_at: dt.datetime

    @field_validator("metrics")
    @classmethod
    def _public_metrics(cls, metrics: dict[str, Any]) -> dict[str, Any]:
        # The strategy's state (auto's bandit) is the engine's, carried to the next round.
        return {key: value for key, value in metrics.items() if key != "strategy_state"}


class StatusPublic(BaseModel):
    """Where the project stands and whether labelling still pays off, in words."""

    project: str
    n_items: int
    n_labelled: int
    n_open: int
    n_in_review: int
    n_eval: int
    n_eval_labelled: int
    rounds: list[RoundPublic]
    should_stop: bool
    verdict: str
    reasons: list[str]


class JobPublic(BaseModel):
    """A background job (a retrain) and its outcome."""

    id: int
    project_id: int | None
    kind: str
    status: str
    attempts: int
    error: str | None
    result: dict[str, Any] | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


@router.get(
    "/projects/{project_id}/rounds",
    response_model=list[RoundPublic],
    dependencies=[Depends(require_roles(*MEMBERS))],
)
def list_rounds(project: ProjectMember, db: DbDep) -> Any:
    """The project's rounds with their metrics, oldest first."""
    # Imported here: the rounds engine pulls in scikit-learn, which the service loads lazily.
    from labelloop.engine import rounds as round_engine

    return round_engine.list_rounds(db, project.id)


@router.get("/projects/{project_id}/status", response_model=StatusPublic)
def project_status(project: ProjectMember, user: HumanUser, db: DbDep) -> Any:
    """Counts, rounds and the stopping-criteria verdict."""
    from labelloop.engine import rounds as round_engine

    return round_engine.project_status(db, project.id)


@router.post(
    "/projects/{project_id}/retrain",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AdminOnly],
)
def retrain(project: ProjectMember, user: CurrentUser, db: DbDep) -> Any:
    """Queue a retrain (admin); the worker runs it, then the queue is re-prioritised."""
    return jobs.enqueue_retrain(db, actor=actor_for(user), project_id=project.id)


@router.get("/projects/{project_id}/jobs", response_model=list[JobPublic], dependencies=[AdminOnly])
def list_jobs(project: ProjectMember, db: DbDep) -> Any:
    """The project's newest jobs first (admin)."""
    return jobs.list_jobs(db, project_id=project.id)
