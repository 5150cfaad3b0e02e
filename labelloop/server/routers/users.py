"""Accounts, API tokens and project memberships (admin only)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from labelloop.engine import users as user_engine
from labelloop.server import deps
from labelloop.server.schemas import (
    MAX_ID,
    MemberCreate,
    TokenCreate,
    TokenCreatedPublic,
    TokenId,
    TokenInfo,
    UserCreate,
    UserCreatedPublic,
    UserId,
    UserInfo,
)

__all__ = ["router"]

router = APIRouter(tags=["users"], route_class=deps.GuardedRoute, dependencies=[deps.AdminOnly])


@router.get("/users", response_model=list[UserInfo])
def list_users(db: deps.DbDep) -> Any:
    """Every user, by name."""
    return user_engine.list_users(db)


@router.post("/users", response_model=UserCreatedPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, user: deps.AdminUser, db: deps.DbDep) -> Any:
    """Create a user with a first API token (shown this once) and memberships."""
    created, token = user_engine.create_user(
        db,
        actor=deps.actor_for(user),
        name=body.name,
        role=body.role,
        password=body.password,
        projects=body.projects,
    )
    return UserCreatedPublic(user=created, token=token)


@router.get("/users/{user_id}", response_model=UserInfo)
def get_user(user_id: UserId, db: deps.DbDep) -> Any:
    """One user."""
    return user_engine.get_user(db, user_id)


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(
    db: deps.DbDep, user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> Any:
    """API tokens (metadata only, never secrets), of one user or everyone."""
    return user_engine.list_tokens(db, user=user_id)


@router.post("/tokens", response_model=TokenCreatedPublic, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, user: deps.AdminUser, db: deps.DbDep) -> Any:
    """Another API token for a user; its secret is in this answer only."""
    info, secret = user_engine.create_token(
        db, actor=deps.actor_for(user), user=body.user_id, name=body.name
    )
    return TokenCreatedPublic(**dataclasses.asdict(info), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenInfo)
def revoke_token(token_id: TokenId, user: deps.AdminUser, db: deps.DbDep) -> Any:
    """Revoke a token: it stops authenticating at once."""
    return user_engine.revoke_token(db, actor=deps.actor_for(user), token_id=token_id)


@router.get("/projects/{project_id}/members", response_model=list[UserInfo])
def list_members(project: deps.ProjectMember, db: deps.DbDep) -> Any:
    """The project's members."""
    return user_engine.list_members(db, project.id)


@router.post("/projects/{project_id}/members", response_model=list[UserInfo])
def add_member(
    project: deps.ProjectMember, body: MemberCreate, user: deps.AdminUser, db: deps.DbDep
) -> Any:
    """Make a user a member of the project (no-op when already one); the members after."""
    user_engine.add_member(db, actor=deps.actor_for(user), project=project.id, user=body.user_id)
    return user_engine.list_members(db, project.id)


@router.delete("/projects/{project_id}/members/{user_id}", response_model=list[UserInfo])
def remove_member(
    project: deps.ProjectMember, user_id: UserId, user: deps.AdminUser, db: deps.DbDep
) -> Any:
    """End a user's membership of the project; the members after."""
    user_engine.remove_member(db, actor=deps.actor_for(user), project=project.id, user=user_id)
    return user_engine.list_members(db, project.id)
