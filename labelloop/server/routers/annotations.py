"""Submitting labels (idempotent with ``Idempotency-Key``), changing and undoing them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from labelloop.engine import annotate
from labelloop.server import deps
from labelloop.server.schemas import (
    AnnotationChange,
    AnnotationCreate,
    AnnotationId,
    AnnotationInfo,
    TaskId,
)

__all__ = ["router"]

router = APIRouter(tags=["annotations"], route_class=deps.GuardedRoute)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Makes a retried submit safe: the same key never creates two annotations.",
    ),
]


@router.post(
    "/tasks/{task_id}/annotations",
    response_model=AnnotationInfo,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": AnnotationInfo, "description": "A retry: the original."}},
)
@deps.guards_in_route(deps.require("label"), deps.task_member)
async def submit_annotation(
    request: Request,
    task_id: TaskId,
    body: AnnotationCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Label a task leased to the caller: ``{"label": ...}`` or ``{"labels": [...]}``.

    Answers 201 with the new annotation, or 200 with the original one when the
    ``Idempotency-Key`` was used before by the caller.
    """

    def submit(caller: deps.Caller) -> tuple[Any, bool]:
        return annotate.submit_annotation(
            deps.db_of(request),
            task_id=task_id,
            user=caller.user,
            label=body.label_value(),
            labels=body.labels,
            time_spent_ms=body.time_spent_ms,
            idempotency_key=idempotency_key,
            unsure=body.unsure,
            comment=body.comment,
        )

    # The hot path of every annotator: one thread-pool hop for the guards and the submit.
    annotation, created = await deps.run_guarded(request, submit)
    if not created:
        response.status_code = status.HTTP_200_OK
    return annotation


@router.post(
    "/annotations/{annotation_id}/undo",
    response_model=AnnotationInfo,
    dependencies=[deps.AnnotationMember],
)
def undo_annotation(annotation_id: AnnotationId, user: deps.LabellerUser, db: deps.DbDep) -> Any:
    """Withdraw the caller's own annotation while it is not yet reviewed."""
    return annotate.undo_annotation(db, annotation_id=annotation_id, user=user)


@router.patch(
    "/annotations/{annotation_id}",
    response_model=AnnotationInfo,
    dependencies=[deps.AnnotationMember],
)
def change_annotation(
    annotation_id: AnnotationId, body: AnnotationChange, user: deps.LabellerUser, db: deps.DbDep
) -> Any:
    """Change the caller's own label (and its flag or comment) while no reviewer has judged
    it; 409 with the reason in words once one has."""
    return annotate.change_annotation(
        db,
        annotation_id=annotation_id,
        user=user,
        label=body.label_value(),
        labels=body.labels,
        unsure=body.unsure,
        comment=body.comment,
    )
