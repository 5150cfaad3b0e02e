"""The label queue: lease the next task, skip a task."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from labelloop.engine import queue
from labelloop.server import deps
from labelloop.server.routers import or_no_content
from labelloop.server.schemas import LeaseHolder, SkipCreate, TaskId, TaskInfo

__all__ = ["router"]

router = APIRouter(tags=["tasks"], route_class=deps.GuardedRoute)


@router.post(
    "/projects/{project_id}/tasks/next",
    response_model=TaskInfo,
    responses={204: {"description": "Nothing is open for this annotator."}},
)
def lease_next_task(
    project: deps.ProjectMember,
    user: deps.LabellerUser,
    db: deps.DbDep,
    settings: deps.SettingsDep,
    holder: LeaseHolder = None,
) -> Any:
    """Lease the highest-priority open task to the caller (no body); 204 when none.

    Asking again while holding an unexpired lease answers the same task; with ``holder``
    (a name the client picks per tab), only a lease taken as that holder is answered, so
    the same person in two tabs labels two different items.
    """
    return or_no_content(
        queue.lease_next_task(
            db,
            project_id=project.id,
            user=user,
            lease_seconds=settings.lease_seconds,
            holder=holder,
        )
    )


@router.post(
    "/tasks/{task_id}/skip", status_code=status.HTTP_204_NO_CONTENT, dependencies=[deps.TaskMember]
)
def skip_task(
    task_id: TaskId, body: SkipCreate, user: deps.LabellerUser, db: deps.DbDep
) -> Response:
    """Give a leased task back with a reason; it goes to others, not back to the caller."""
    queue.skip_task(db, task_id=task_id, user=user, reason=body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
