"""What the parts of `labelloop.engine.users` share: a user's row, found and shown.

- A user is named by id, name or `UserInfo`; `find_user` is the only look-up and raises
  `NotFoundError` naming the user.
- A `UserInfo` never carries the password hash.
- Secrets (API tokens, browser sessions) are stored only as their SHA-256 hex digest.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import UserInfo
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.tables import UserRow

__all__ = ["MAX_NAME", "digest", "find_user", "user_info"]

MAX_NAME = 200


def digest(secret: str) -> str:
    """The SHA-256 hex digest a secret is stored and looked up as."""
    return hashlib.sha256(secret.encode()).hexdigest()


def user_info(row: UserRow) -> UserInfo:
    """The public view of a user row."""
    return UserInfo(id=row.id, name=row.name, role=row.role, is_active=bool(row.is_active))


def find_user(session: Session, ref: int | str | UserInfo) -> UserRow:
    """The user row for an id, a name or a `UserInfo` (NotFoundError if none)."""
    if isinstance(ref, UserInfo):
        ref = ref.id
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise ValidationError(f"not a user reference: {ref!r}", field="user")
    column = UserRow.id if isinstance(ref, int) else UserRow.name
    row = session.execute(select(UserRow).where(column == ref)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no user {ref!r}: create it with `labelloop user create`")
    return row
