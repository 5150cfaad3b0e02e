"""The label queue: lease the next task, skip a task."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

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
@deps.guards_in_route(deps.require("label"), deps.project_member)
async def lease_next_task(
    request: Request,
    project_id: Annotated[int, Path(description="The project's id.")],
    holder: LeaseHolder = None,
) -> Any:
    """Lease the highest-priority open task to the caller (no body); 204 when none.

    Asking again while holding an unexpired lease answers the same task; with ``holder``
    (a name the client picks per tab), only a lease taken as that holder is answered, so
    the same person in two tabs labels two different items.
    """
    lease_seconds = deps.settings_of(request).lease_seconds

    def lease(caller: deps.Caller) -> queue.TaskInfo | None:
        return queue.lease_next_task(
            deps.db_of(request),
            project_id=caller.project.id,
            user=caller.user,
            lease_seconds=lease_seconds,
            holder=holder,
        )

    # The hot path of every annotator: one thread-pool hop for the guards and the lease.
    return or_no_content(await deps.run_guarded(request, lease))


@router.post(
    "/tasks/{task_id}/skip", status_code=status.HTTP_204_NO_CONTENT, dependencies=[deps.TaskMember]
)
def skip_task(
    task_id: TaskId, body: SkipCreate, user: deps.LabellerUser, db: deps.DbDep
) -> Response:
    """Give a leased task back with a reason; it goes to others, not back to the caller."""
    queue.skip_task(db, task_id=task_id, user=user, reason=body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
