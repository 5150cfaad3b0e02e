"""A logged-in user changes their password: engine, API and web page.

The current password is proven (and throttled like a log-in), the new one keeps the
creation rule, the other browser sessions end, tokens only when asked; all audited.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelloop.engine import users
from labelloop.exceptions import ThrottledError, ValidationError
from labelloop.store.tables import AuditEventRow

API = "/api/v1"
PASSWORD = "correct horse battery"  # the annotator's, as tests/server/conftest.py sets it
NEW = "a brand new password"


def _audit(db, action: str) -> list:
    with db.read() as session:
        return list(
            session.execute(
                select(AuditEventRow.actor, AuditEventRow.target, AuditEventRow.after).where(
                    AuditEventRow.action == action
                )
            ).all()
        )


def test_change_password_rules_on_both_databases(database) -> None:
    user, token = users.create_user(
        database, actor="cli:test", name="ann", role="annotator", password=PASSWORD
    )
    here, _ = users.create_browser_session(database, user.id)
    elsewhere, _ = users.create_browser_session(database, user.id)
    for current, new, field in [
        ("wrong password", NEW, "current_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, PASSWORD, "new_password"),
        ("", NEW, "current_password"),
    ]:
        with pytest.raises(ValidationError) as refused:
            users.change_password(database, user="ann", current_password=current, new_password=new)
        assert refused.value.field == field
    assert users.verify_password(database, "ann", PASSWORD) == user
    change = users.change_password(
        database, user="ann", current_password=PASSWORD, new_password=NEW, keep_session=here
    )
    assert change == users.PasswordChange(sessions_ended=1, tokens_revoked=0)
    assert users.verify_password(database, "ann", NEW) == user
    assert users.session_user(database, here) is not None
    assert users.session_user(database, elsewhere) is None
    assert users.authenticate_token(database, token) == user
    assert _audit(database, "user.password_changed") == [
        ("ann", "user:ann", {"sessions_ended": 1, "tokens_revoked": 0})
    ]


def test_a_wrong_current_password_is_a_throttled_failure(database) -> None:
    users.create_user(database, actor="cli:test", name="ann", role="annotator", password=PASSWORD)
    policy = users.LoginPolicy(backoff_after=2, lock_after=3)
    with pytest.raises(ValidationError):
        users.change_password(
            database, user="ann", current_password="nope nope", new_password=NEW, policy=policy
        )
    with pytest.raises(ThrottledError):
        users.change_password(
            database, user="ann", current_password="nope nope", new_password=NEW, policy=policy
        )
    assert users.login_throttle_state(database, kind="account", key="ann").failures == 2


def test_api_password_change_keeps_the_calling_session(world) -> None:
    other = TestClient(world.client.app)
    assert (
        other.post(
            f"{API}/auth/login", json={"name": "annotator", "password": PASSWORD}
        ).status_code
        == 200
    )
    client = TestClient(world.client.app)
    csrf = client.post(
        f"{API}/auth/login", json={"name": "annotator", "password": PASSWORD}
    ).json()["csrf_token"]
    body = {"current_password": PASSWORD, "new_password": NEW}
    assert client.post(f"{API}/auth/password", json=body).status_code == 403  # no CSRF
    wrong = client.post(
        f"{API}/auth/password",
        json={**body, "current_password": "wrong password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    done = client.post(f"{API}/auth/password", json=body, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json() == {"sessions_ended": 1, "tokens_revoked": 0}
    assert client.get(f"{API}/auth/me").status_code == 200
    assert other.get(f"{API}/auth/me").status_code == 401
    assert world.call("annotator", "GET", f"{API}/auth/me").status_code == 200


def test_api_password_change_by_token_can_revoke_the_tokens(world) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW, "revoke_tokens": True}
    done = world.call("annotator", "POST", f"{API}/auth/password", json=body)
    assert done.status_code == 200 and done.json() == {"sessions_ended": 0, "tokens_revoked": 1}
    assert world.call("annotator", "GET", f"{API}/auth/me").status_code == 401
    assert _audit(world.db, "user.password_changed")[0][2]["tokens_revoked"] == 1
    assert world.call(None, "POST", f"{API}/auth/password", json=body).status_code == 401


def test_the_account_page_changes_the_password(world) -> None:
    browser = TestClient(world.client.app)
    browser.post("/login", data={"name": "annotator", "password": PASSWORD})
    page = browser.get("/projects").text
    assert 'href="/account"' in page
    account = browser.get("/account").text
    assert "Change your password" in account
    csrf = account.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW}
    mismatch = browser.post("/account/password", data={**form, "confirm_password": "other one"})
    assert mismatch.status_code == 422 and 'id="confirm_password-error"' in mismatch.text
    forged = browser.post(
        "/account/password", data={**form, "confirm_password": NEW, "csrf_token": "x"}
    )
    assert forged.status_code == 422 and "The form expired" in forged.text
    short = browser.post(
        "/account/password", data={**form, "new_password": "short", "confirm_password": "short"}
    )
    assert short.status_code == 422 and "The new password must have at least 8" in short.text
    done = browser.post("/account/password", data={**form, "confirm_password": NEW})
    assert done.status_code == 200 and "Password changed. 0 other sessions ended." in done.text
    assert users.verify_password(world.db, "annotator", NEW) is not None
    assert "Log out" in browser.get("/projects").text
    assert "Log in" in TestClient(world.client.app).get("/account").text
