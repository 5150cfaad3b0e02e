"""Log-in, users, API tokens and memberships.

A user is answered as the engine's `UserInfo` and a token's metadata as its `TokenInfo`:
their fields are the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from labelloop.engine.core.identity import ROLES, UserInfo
from labelloop.engine.users import TokenInfo
from labelloop.server.schemas.common import Id, Name, RequestModel

__all__ = [
    "LoginCreate",
    "MemberCreate",
    "PasswordChangeCreate",
    "PasswordChangePublic",
    "SessionPublic",
    "TokenCreate",
    "TokenCreatedPublic",
    "TokenInfo",
    "UserCreate",
    "UserCreatedPublic",
    "UserInfo",
]


class LoginCreate(RequestModel):
    name: Name
    password: str = Field(min_length=1, max_length=1000)


class PasswordChangeCreate(RequestModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(max_length=1000)
    revoke_tokens: bool = Field(
        default=False, description="Also revoke every API token of the caller."
    )


class PasswordChangePublic(BaseModel):
    """What the change ended: the caller's other browser sessions, and tokens if asked."""

    sessions_ended: int
    tokens_revoked: int


class SessionPublic(BaseModel):
    """The logged-in user and the CSRF token to send as ``X-CSRF-Token`` on writes."""

    user: UserInfo
    csrf_token: str


class UserCreate(RequestModel):
    name: Name
    role: Literal[ROLES]  # type: ignore[valid-type]  # the engine's roles, as an enum
    password: str | None = Field(default=None, min_length=8, max_length=1000)
    projects: list[Id] = Field(default_factory=list, max_length=1000)


class UserCreatedPublic(BaseModel):
    """A new user and their first API token (shown this once)."""

    user: UserInfo
    token: str


class TokenCreate(RequestModel):
    user_id: Id
    name: str = Field(default="", max_length=200)


@dataclass(frozen=True)
class TokenCreatedPublic(TokenInfo):
    """A new API token: its metadata, and under ``token`` its secret (shown this once).

    ``token`` is the string for ``Authorization: Bearer``, as in ``POST /users``.
    """

    token: str


class MemberCreate(RequestModel):
    user_id: Id
