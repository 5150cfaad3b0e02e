"""Users, tokens, browser sessions and memberships, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from _service_setup import add_items, make_project
from sqlalchemy import select

from labelloop.engine import users
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.tables import ApiTokenRow, AuditEventRow, BrowserSessionRow


def test_create_user_returns_a_token_stored_only_as_its_digest(database):
    project = make_project(database)
    user, token = users.create_user(
        database, actor="cli:test", name="ann", role="annotator", projects=[project]
    )
    assert user.role == "annotator" and user.is_active
    assert token.startswith(users.TOKEN_PREFIX) and len(token) > 40
    with database.read() as session:
        digests = session.execute(select(ApiTokenRow.digest)).scalars().all()
    assert digests == [hashlib.sha256(token.encode()).hexdigest()]
    assert users.authenticate_token(database, token) == user
    assert users.authenticate_token(database, token + "x") is None
    assert users.authenticate_token(database, "Bearer nonsense") is None
    assert users.is_member(database, project, user.id)
    assert users.user_projects(database, user.id) == [project]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "x", "role": "boss"}, "role"),
        ({"name": "  ", "role": "admin"}, "name"),
        ({"name": "x", "role": "admin", "password": "short"}, "password"),
    ],
)
def test_create_user_validates(sqlite_db, kwargs, field):
    with pytest.raises(ValidationError) as err:
        users.create_user(sqlite_db, actor="t", **kwargs)
    assert err.value.field == field
    assert users.list_users(sqlite_db) == []


def test_duplicate_name_and_unknown_project_change_nothing(sqlite_db):
    users.create_user(sqlite_db, actor="t", name="ann", role="annotator")
    with pytest.raises(ConflictError):
        users.create_user(sqlite_db, actor="t", name="ann", role="admin")
    with pytest.raises(NotFoundError):
        users.create_user(sqlite_db, actor="t", name="bob", role="admin", projects=["nope"])
    assert [u.name for u in users.list_users(sqlite_db)] == ["ann"]


def test_tokens_list_and_revoke(database):
    user, first = users.create_user(database, actor="t", name="model-a", role="model")
    info, second = users.create_token(database, actor="t", user="model-a", name="ci")
    assert second != first and info.name == "ci" and info.user_name == "model-a"
    tokens = users.list_tokens(database, user=user.id)
    assert [t.name for t in tokens] == ["initial", "ci"]
    revoked = users.revoke_token(database, actor="t", token_id=info.id)
    assert revoked.revoked_at is not None
    assert users.authenticate_token(database, second) is None
    assert users.authenticate_token(database, first) == user
    with pytest.raises(NotFoundError):
        users.revoke_token(database, actor="t", token_id=999)
    with database.read() as session:
        actions = (
            session.execute(select(AuditEventRow.action).where(AuditEventRow.chain == "global"))
            .scalars()
            .all()
        )
    assert actions == ["user.created", "token.created", "token.created", "token.revoked"]


def test_token_access_checks_the_path_row_in_the_same_read(database):
    project = make_project(database)
    other = make_project(database, name="other")
    task_ids = add_items(database, project, 2)
    member, member_token = users.create_user(
        database, actor="t", name="ann", role="annotator", projects=[project]
    )
    _, outsider_token = users.create_user(
        database, actor="t", name="out", role="annotator", projects=[other]
    )
    _, admin_token = users.create_user(database, actor="t", name="boss", role="admin")

    def reach(token, scope):
        access = users.token_access(database, token, scope=scope)
        return access.project_id

    plain = users.token_access(database, member_token)
    assert plain == users.TokenAccess(user=member, project_id=None)
    assert reach(member_token, ("project", project)) == project
    assert reach(member_token, ("task", task_ids[0])) == project
    assert reach(outsider_token, ("project", project)) is None  # exists, not a member
    assert reach(outsider_token, ("task", task_ids[0])) is None
    assert reach(outsider_token, ("project", other)) == other
    assert reach(admin_token, ("project", project)) == project  # admins: it exists
    assert reach(admin_token, ("task", task_ids[1])) == project
    for token in (member_token, admin_token):
        assert reach(token, ("project", 999_999)) is None
        assert reach(token, ("task", 999_999)) is None
        assert reach(token, ("task", 2**63 + 5)) is None  # beyond any id: nothing, no error
    assert users.token_access(database, "ll_" + "x" * 43, scope=("project", project)) is None
    with pytest.raises(ValidationError):
        users.token_access(database, member_token, scope=("item", 1))
    with pytest.raises(ValidationError):
        users.token_access(database, member_token, scope=("project", "1"))
    users.set_user_active(database, actor="t", user="ann", active=False)
    assert users.token_access(database, member_token, scope=("project", project)) is None


def test_password_and_browser_session(database):
    user, _ = users.create_user(
        database, actor="t", name="rev", role="reviewer", password="correct horse"
    )
    assert users.verify_password(database, "rev", "correct horse") == user
    assert users.verify_password(database, "rev", "wrong horse!") is None
    assert users.verify_password(database, "nobody", "correct horse") is None
    secret, csrf = users.create_browser_session(database, user.id)
    assert users.session_user(database, secret) == (user, csrf)
    assert users.session_user(database, secret + "x") is None
    assert users.end_browser_session(database, secret)
    assert users.session_user(database, secret) is None


def test_expired_browser_session_is_refused(sqlite_db):
    user, _ = users.create_user(sqlite_db, actor="t", name="a", role="admin")
    secret, _ = users.create_browser_session(sqlite_db, user.id)
    with sqlite_db.transaction() as session:
        row = session.execute(select(BrowserSessionRow)).scalar_one()
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert users.session_user(sqlite_db, secret) is None


def test_memberships_are_audited_on_the_project_chain(database):
    project = make_project(database)
    users.create_user(database, actor="t", name="ann", role="annotator")
    assert users.add_member(database, actor="t", project=project, user="ann")
    assert not users.add_member(database, actor="t", project=project, user="ann")
    assert [u.name for u in users.list_members(database, project)] == ["ann"]
    assert users.remove_member(database, actor="t", project="reviews", user="ann")
    assert users.list_members(database, project) == []
    with database.read() as session:
        actions = (
            session.execute(
                select(AuditEventRow.action)
                .where(AuditEventRow.chain == f"project:{project}")
                .order_by(AuditEventRow.seq)
            )
            .scalars()
            .all()
        )
    assert actions[-2:] == ["member.added", "member.removed"]


def test_deactivated_users_cannot_authenticate(sqlite_db):
    user, token = users.create_user(
        sqlite_db, actor="t", name="ann", role="annotator", password="long enough"
    )
    secret, _ = users.create_browser_session(sqlite_db, user.id)
    off = users.set_user_active(sqlite_db, actor="t", user="ann", active=False)
    assert not off.is_active
    assert users.authenticate_token(sqlite_db, token) is None
    assert users.session_user(sqlite_db, secret) is None
    assert users.verify_password(sqlite_db, "ann", "long enough") is None
    users.set_user_active(sqlite_db, actor="t", user=user.id, active=True)
    assert users.authenticate_token(sqlite_db, token) == user


def test_token_times_read_back_aware_utc(database):
    _, token = users.create_user(database, actor="t", name="bot", role="model")
    assert users.authenticate_token(database, token) is not None  # stamps last_used_at
    (info,) = users.list_tokens(database, user="bot")
    users.revoke_token(database, actor="t", token_id=info.id)
    (info,) = users.list_tokens(database, user="bot")
    for moment in (info.created_at, info.last_used_at, info.revoked_at):
        assert moment is not None and moment.utcoffset() == dt.timedelta(0)
    assert info.created_at <= info.last_used_at <= info.revoked_at <= dt.datetime.now(dt.UTC)
