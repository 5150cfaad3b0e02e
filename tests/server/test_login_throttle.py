"""Failed log-ins are throttled per account and per client address, on every password path.

Delays are not waited out: the tests move the stored ``blocked_until`` (and, for a lock,
the last failure) into the past, as time passing would.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from labelloop.engine import users
from labelloop.exceptions import ThrottledError, ValidationError
from labelloop.server import ServerSettings
from labelloop.store.tables import AuditEventRow, LoginThrottleRow, utcnow

API = "/api/v1"
PASSWORD = "correct horse battery"  # the annotator's, as tests/server/conftest.py sets it
SMALL = {"login_backoff_after": 2, "login_lock_after": 4, "login_lock_seconds": 600}


def _time_passes(world, *, past_locks: bool = False) -> None:
    """Let every back-off run out (and, with ``past_locks``, every lock and old failure)."""
    now = utcnow()
    values: dict = {"blocked_until": now - dt.timedelta(seconds=1)}
    if past_locks:
        values["last_failure_at"] = now - dt.timedelta(hours=1)
    with world.db.transaction() as session:
        session.execute(update(LoginThrottleRow).values(**values))


def _still_blocked(world) -> None:
    """Hold every back-off for another minute: the next attempt comes within the delay
    however slowly the machine runs (a back-off starts at one second)."""
    with world.db.transaction() as session:
        session.execute(
            update(LoginThrottleRow)
            .where(LoginThrottleRow.blocked_until.is_not(None))
            .values(blocked_until=utcnow() + dt.timedelta(minutes=1))
        )


def _api_login(client: TestClient, name: str, password: str):
    return client.post(f"{API}/auth/login", json={"name": name, "password": password})


def _locks(world) -> list[tuple[str, str]]:
    with world.db.read() as session:
        rows = session.execute(
            select(AuditEventRow.action, AuditEventRow.target).where(
                AuditEventRow.action == "login.locked"
            )
        ).all()
    return [tuple(row) for row in rows]


def _failing_run(world, client: TestClient, name: str) -> list[tuple[int, str, str]]:
    """Four wrong passwords for ``name``, each after the previous delay ran out, then the
    right one: (status, Retry-After, detail) of each answer."""
    answers = []
    for attempt in range(4):
        if attempt:
            _time_passes(world)
        response = _api_login(client, name, "wrong password")
        detail = re.sub(r"\(at \d\d:\d\d UTC\)", "(at HH:MM UTC)", response.json()["detail"])
        answers.append((response.status_code, response.headers.get("retry-after"), detail))
    right = _api_login(client, name, PASSWORD)
    detail = re.sub(r"\d\d:\d\d", "HH:MM", right.json()["detail"])
    answers.append((right.status_code, "", detail))
    return answers


def test_api_log_in_backs_off_then_locks_and_audits_the_lock(make_world) -> None:
    world = make_world(**SMALL)
    client = TestClient(world.client.app)
    first = _api_login(client, "annotator", "wrong password")
    assert first.status_code == 401 and first.json()["detail"] == "wrong name or password"
    second = _api_login(client, "annotator", "wrong password")
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert second.json()["error"] == "too_many_requests"
    assert "Too many failed log-ins: wait 1 second, then try again." in second.json()["detail"]
    # While backed off, even the right password is not checked.
    _still_blocked(world)
    refused = _api_login(client, "annotator", PASSWORD)
    assert refused.status_code == 429 and "set-cookie" not in refused.headers

    _time_passes(world)
    third = _api_login(client, "annotator", "wrong password")
    assert third.status_code == 429 and third.headers["retry-after"] == "2"
    _time_passes(world)
    assert _locks(world) == []
    fourth = _api_login(client, "annotator", "wrong password")
    assert fourth.status_code == 429 and int(fourth.headers["retry-after"]) > 590
    assert "This account is locked after 4 failed log-ins" in fourth.json()["detail"]
    assert _locks(world) == [("login.locked", "user:annotator")]
    locked = _api_login(client, "annotator", PASSWORD)
    assert locked.status_code == 429 and "locked" in locked.json()["detail"]

    _time_passes(world, past_locks=True)
    assert _api_login(client, "annotator", PASSWORD).status_code == 200
    assert users.login_throttle_state(world.db, kind="account", key="annotator") is None


def test_an_unknown_name_gets_the_same_answers_as_an_account(make_world) -> None:
    world = make_world(**SMALL)
    client = TestClient(world.client.app)
    known = _failing_run(world, client, "annotator")
    unknown = _failing_run(world, client, "nobody")
    assert [status for status, _, _ in known] == [401, 429, 429, 429, 429]
    assert unknown == known
    assert _locks(world) == [("login.locked", "user:annotator"), ("login.locked", "user:nobody")]


def test_a_successful_log_in_forgets_the_accounts_failures(make_world) -> None:
    world = make_world(**SMALL)
    client = TestClient(world.client.app)
    assert _api_login(client, "annotator", "wrong password").status_code == 401
    assert users.login_throttle_state(world.db, kind="account", key="annotator").failures == 1
    assert _api_login(client, "annotator", PASSWORD).status_code == 200
    assert users.login_throttle_state(world.db, kind="account", key="annotator") is None
    # One failure again is the first of a new count, not the second of the old one.
    assert _api_login(client, "annotator", "wrong password").status_code == 401
    # The address keeps its count: a good account buys no guesses at the others.
    assert users.login_throttle_state(world.db, kind="address", key="testclient").failures == 2


def test_one_address_is_throttled_across_accounts(make_world) -> None:
    world = make_world(login_address_backoff_after=3)
    guesser = TestClient(world.client.app, client=("192.0.2.7", 4000))
    for name in ("admin", "reviewer"):
        assert _api_login(guesser, name, "wrong password").status_code == 401
    third = _api_login(guesser, "nobody", "wrong password")
    assert third.status_code == 429 and third.headers["retry-after"] == "1"
    # The guessing address is refused for every account; another address is not.
    _still_blocked(world)
    assert _api_login(guesser, "annotator", PASSWORD).status_code == 429
    elsewhere = TestClient(world.client.app, client=("198.51.100.9", 4000))
    assert _api_login(elsewhere, "annotator", PASSWORD).status_code == 200
    assert users.login_throttle_state(world.db, kind="account", key="admin").failures == 1


def test_the_web_form_is_throttled_and_says_when_to_try_again(make_world) -> None:
    world = make_world(**SMALL)
    browser = TestClient(world.client.app)
    form = {"name": "annotator", "password": "wrong password"}
    assert browser.post("/login", data=form).status_code == 401
    backed_off = browser.post("/login", data=form)
    assert backed_off.status_code == 429 and backed_off.headers["retry-after"] == "1"
    assert "Too many failed log-ins: wait 1 second, then try again." in backed_off.text
    assert 'value="annotator"' in backed_off.text
    for _ in range(2):
        _time_passes(world)
        last = browser.post("/login", data=form)
    assert last.status_code == 429 and "This account is locked after 4 failed log-ins" in last.text
    assert "ask an admin to set a new password" in last.text
    assert _locks(world) == [("login.locked", "user:annotator")]
    # The API and the form count the same failures: the lock holds on both.
    right = browser.post(
        "/login", data={"name": "annotator", "password": PASSWORD}, follow_redirects=False
    )
    assert right.status_code == 429
    assert _api_login(TestClient(world.client.app), "annotator", PASSWORD).status_code == 429


def test_throttling_survives_a_new_app_on_the_same_database(make_world) -> None:
    world = make_world(**SMALL)
    client = TestClient(world.client.app)
    for _ in range(2):
        _api_login(client, "annotator", "wrong password")
    _still_blocked(world)
    from labelloop.server import create_app

    restarted = TestClient(create_app(ServerSettings(**SMALL), db=world.db))
    assert _api_login(restarted, "annotator", PASSWORD).status_code == 429


def test_engine_check_login_on_both_databases(database) -> None:
    users.create_user(database, actor="cli:test", name="ann", role="annotator", password="x" * 8)
    policy = users.LoginPolicy(backoff_after=1, lock_after=2, lock_seconds=60)
    assert users.check_login(database, name="ann", password="x" * 8, address=None, policy=policy)
    with pytest.raises(ThrottledError) as refused:
        users.check_login(database, name="ann", password="nope", address="a", policy=policy)
    assert refused.value.retry_after == 1 and not refused.value.locked
    with database.transaction() as session:
        session.execute(update(LoginThrottleRow).values(blocked_until=utcnow()))
    with pytest.raises(ThrottledError) as locked:
        users.check_login(database, name="ann", password="nope", address="a", policy=policy)
    assert locked.value.locked and locked.value.retry_after == 60


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"login_backoff_after": 0}, "login_backoff_after"),
        ({"login_backoff_after": 6, "login_lock_after": 5}, "login_lock_after"),
        ({"session_idle_seconds": 0}, "session_idle_seconds"),
    ],
)
def test_bad_throttle_settings_are_refused(settings, field) -> None:
    with pytest.raises(ValidationError) as bad:
        ServerSettings(**settings)
    assert bad.value.field == field
