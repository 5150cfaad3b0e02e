"""Who may do what: the roles, the role sets the engine and the server check, `UserInfo`.

A user's role holds in every project they are a member of:

- ``admin``: everything;
- ``annotator``: labels the tasks of their projects;
- ``reviewer``: reviews and corrects annotations (and may label);
- ``model``: a client model's service account (pushes predictions, reads labels).

The role sets below are the only declaration of who may do what; the engine checks them
with `check_user`, the server's guards with the same sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelloop.exceptions import PermissionDeniedError, ValidationError

__all__ = [
    "ADMIN_ROLES",
    "LABELLING_ROLES",
    "MEMBER_ROLES",
    "MODEL_READER_ROLES",
    "REVIEW_ROLES",
    "ROLES",
    "UserInfo",
    "check_user",
]

ROLES: tuple[str, ...] = ("admin", "annotator", "reviewer", "model")
ADMIN_ROLES: tuple[str, ...] = ("admin",)
REVIEW_ROLES: tuple[str, ...] = ("admin", "reviewer")
LABELLING_ROLES: tuple[str, ...] = ("admin", "annotator", "reviewer")
MODEL_READER_ROLES: tuple[str, ...] = ("admin", "model")
MEMBER_ROLES: tuple[str, ...] = ROLES


@dataclass(frozen=True)
class UserInfo:
    """A user as the engine hands it out (never the password hash)."""

    id: int
    name: str
    role: str
    is_active: bool


def check_user(user: object, roles: tuple[str, ...], action: str) -> UserInfo:
    """Check that ``user`` is an active `UserInfo` whose role may do ``action``."""
    if not isinstance(user, UserInfo):
        raise ValidationError(f"user must be a UserInfo, not {type(user).__name__}", field="user")
    if not user.is_active:
        raise PermissionDeniedError(f"user {user.name!r} is deactivated")
    if user.role not in roles:
        raise PermissionDeniedError(f"a user with role {user.role!r} may not {action}")
    return user
