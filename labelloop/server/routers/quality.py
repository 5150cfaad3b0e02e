"""Label quality: the suspect queue a round fills, and a reviewer's ruling on a suspect."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.engine import quality
from labelloop.server import deps
from labelloop.server.schemas.quality import SuspectId, SuspectInfo, SuspectList, SuspectRuling

__all__ = ["router"]

router = APIRouter(tags=["quality"], route_class=deps.GuardedRoute)


@router.get(
    "/projects/{project_id}/suspects",
    response_model=SuspectList,
    dependencies=[deps.MemberOnly],
)
def list_suspects(
    project: deps.ProjectMember,
    db: deps.DbDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Any:
    """Open suspect labels, most suspect first, with the reviewers' precision at k."""
    return quality.list_suspects(db, project=project.id, limit=limit, offset=offset)


@router.post("/projects/{project_id}/suspects/{suspect_id}", response_model=SuspectInfo)
def resolve_suspect(
    project: deps.ProjectMember,
    suspect_id: SuspectId,
    body: SuspectRuling,
    user: deps.ReviewerUser,
    db: deps.DbDep,
) -> Any:
    """Confirm (and correct) or clear a suspect label; the item is settled as reviewed."""
    return quality.resolve_suspect(
        db,
        suspect_id=suspect_id,
        user=user,
        verdict=body.verdict,
        label=body.label,
        note=body.note,
        project=project.id,
    )
