"""The one permission question API guards and pages share, asked directly."""

from __future__ import annotations

import dataclasses

import pytest

from labelloop.engine import users
from labelloop.engine.core.identity import (
    ADMIN_ROLES,
    LABELLING_ROLES,
    MEMBER_ROLES,
    MODEL_READER_ROLES,
    REVIEW_ROLES,
    ROLES,
)
from labelloop.server.permissions import (
    ACTION_ROLES,
    member_scope,
    permission_allowed,
    project_reachable,
    role_allows,
)
from labelloop.server.schemas import MAX_ID

EXPECTED = {
    "view": MEMBER_ROLES,
    "label": LABELLING_ROLES,
    "review": REVIEW_ROLES,
    "administer": ADMIN_ROLES,
    "model-exchange": MODEL_READER_ROLES,
}


def test_every_action_takes_its_roles_from_the_engine() -> None:
    assert ACTION_ROLES == EXPECTED
    assert all(set(roles) <= set(ROLES) for roles in ACTION_ROLES.values())


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_role_allows_follows_the_role_sets(world, action: str, role: str) -> None:
    user = users.get_user(world.db, world.user_ids[role])
    assert role_allows(user, action) is (role in EXPECTED[action])
    inactive = dataclasses.replace(user, is_active=False)
    assert not role_allows(inactive, action)


def test_an_unknown_action_is_a_mistake_in_the_caller(world) -> None:
    user = users.get_user(world.db, world.user_ids["admin"])
    with pytest.raises(KeyError):
        role_allows(user, "delete everything")


def test_admins_reach_every_project_members_only_theirs(world) -> None:
    admin = users.get_user(world.db, world.user_ids["admin"])
    annotator = users.get_user(world.db, world.user_ids["annotator"])
    outsider = users.get_user(world.db, world.user_ids["outsider"])
    assert member_scope(admin) is None
    assert member_scope(annotator) == annotator.id
    for project_id in (world.project_id, world.other_project_id):
        assert project_reachable(world.db, admin, project_id)
    assert project_reachable(world.db, annotator, world.project_id)
    assert not project_reachable(world.db, annotator, world.other_project_id)
    assert project_reachable(world.db, outsider, world.other_project_id)
    missing = world.other_project_id + 1000
    for user in (admin, annotator):
        assert not project_reachable(world.db, user, missing)
        for bad in (0, -1, MAX_ID, MAX_ID * 4):
            assert not project_reachable(world.db, user, bad)


def test_permission_allowed_needs_the_role_and_the_project(world) -> None:
    reviewer = users.get_user(world.db, world.user_ids["reviewer"])
    annotator = users.get_user(world.db, world.user_ids["annotator"])
    assert permission_allowed(world.db, reviewer, "review", world.project_id)
    assert not permission_allowed(world.db, reviewer, "review", world.other_project_id)
    assert not permission_allowed(world.db, annotator, "review", world.project_id)
    assert permission_allowed(world.db, annotator, "label")
    assert not permission_allowed(world.db, annotator, "administer")
