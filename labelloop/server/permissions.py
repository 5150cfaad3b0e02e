"""One question every view asks: may this user do this action in this project?

`permission_allowed` answers it for the JSON API's guards (`labelloop.server.deps`) and
for the web pages alike; how the caller proved who they are (token or cookie) is the
views' business, the decision is made here only:

1. An inactive user may do nothing.
2. The action's roles must include the user's role (`ACTION_ROLES`, built from the role
   sets of `labelloop.engine.core.identity`).
3. In a project: admins reach every project that exists, everyone else only the projects
   they are a member of (`member_scope`).

The API asks rule 2 and rule 3 in two steps because it answers them differently: 403 when
the role may not (`role_allows`), 404 when the project is out of reach
(`project_reachable`), so that an outsider learns nothing about a project, not even that
it exists. Pages answer 403 only to a member whose role may not, and 404 when the
project is out of reach (`labelloop.server.web.guarded`).
"""

from __future__ import annotations

from labelloop.engine import lookup
from labelloop.engine import users as user_engine
from labelloop.engine.core.identity import (
    ADMIN_ROLES,
    LABELLING_ROLES,
    MEMBER_ROLES,
    MODEL_READER_ROLES,
    REVIEW_ROLES,
    UserInfo,
)
from labelloop.server.schemas.common import MAX_ID
from labelloop.store.db import Database

__all__ = [
    "ACTION_ROLES",
    "member_scope",
    "permission_allowed",
    "project_reachable",
    "role_allows",
]

ACTION_ROLES: dict[str, tuple[str, ...]] = {
    # See a project, its rounds; every member may.
    "view": MEMBER_ROLES,
    # Label, and read what labelling needs (guidelines, status, metrics, media, the web UI).
    "label": LABELLING_ROLES,
    # Review, browse the pool and item histories, see the dashboard.
    "review": REVIEW_ROLES,
    # Change a project, its members, tokens and webhooks.
    "administer": ADMIN_ROLES,
    # A client model's exchange: push predictions, pull final labels.
    "model-exchange": MODEL_READER_ROLES,
}


def role_allows(user: UserInfo, action: str) -> bool:
    """Rules 1 and 2: whether ``user``'s role may do ``action`` at all.

    Raises
    ------
    KeyError
        ``action`` is not one of `ACTION_ROLES` (a mistake in the caller's code).
    """
    return user.is_active and user.role in ACTION_ROLES[action]


def member_scope(user: UserInfo) -> int | None:
    """Rule 3 as a filter: the user whose memberships count, or None for an admin (every
    project), for the lookups that check membership in the same statement as the row."""
    return None if user.role == "admin" else user.id


def project_reachable(db: Database, user: UserInfo, project_id: int) -> bool:
    """Rule 3: whether the project exists and ``user`` may reach it."""
    if not 0 < project_id < MAX_ID:
        return False
    member_id = member_scope(user)
    if member_id is None:
        return lookup.project_exists(db, project_id)
    # The membership row cannot outlive its project (ON DELETE CASCADE).
    return user_engine.is_member(db, project_id, member_id)


def permission_allowed(
    db: Database, user: UserInfo, action: str, project_id: int | None = None
) -> bool:
    """Whether ``user`` may do ``action``, in project ``project_id`` when one is given.

    Parameters
    ----------
    db : Database
    user : UserInfo
        The authenticated caller.
    action : str
        One of `ACTION_ROLES`.
    project_id : int, optional
        The project the action touches; None for an action outside any project.

    Returns
    -------
    bool
    """
    if not role_allows(user, action):
        return False
    return project_id is None or project_reachable(db, user, project_id)
