"""Browser sessions expire after the server's idle time; every use extends them.

Nobody sleeps: the tests move the stored ``last_seen_at`` back, as an idle hour would.
"""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from labelloop.engine import users
from labelloop.server.sessions import SESSION_COOKIE
from labelloop.store.tables import BrowserSessionRow, utcnow

API = "/api/v1"
PASSWORD = "correct horse battery"  # the annotator's, as tests/server/conftest.py sets it
IDLE = 3600


def _idle_for(world, seconds: float) -> None:
    with world.db.transaction() as session:
        session.execute(
            update(BrowserSessionRow).values(last_seen_at=utcnow() - dt.timedelta(seconds=seconds))
        )


def _logged_in(world) -> TestClient:
    browser = TestClient(world.client.app)
    response = browser.post(
        "/login", data={"name": "annotator", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    return browser


def test_an_idle_session_is_sent_to_log_in_with_a_message(make_world) -> None:
    world = make_world(session_idle_seconds=IDLE)
    browser = _logged_in(world)
    assert "Log out" in browser.get("/projects").text
    _idle_for(world, IDLE + 5)
    page = browser.get(f"/projects/{world.project_id}/label")
    assert "Your session has expired: log in again." in page.text
    assert f'value="/projects/{world.project_id}/label"' in page.text
    assert SESSION_COOKIE not in browser.cookies
    api = TestClient(world.client.app, cookies={SESSION_COOKIE: "stale"})
    refused = api.get(f"{API}/auth/me")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


def test_the_api_refuses_an_idle_cookie_session(make_world) -> None:
    world = make_world(session_idle_seconds=IDLE)
    client = TestClient(world.client.app)
    assert (
        client.post(
            f"{API}/auth/login", json={"name": "annotator", "password": PASSWORD}
        ).status_code
        == 200
    )
    assert client.get(f"{API}/auth/me").status_code == 200
    _idle_for(world, IDLE + 5)
    expired = client.get(f"{API}/auth/me")
    assert expired.status_code == 401
    assert expired.json()["detail"] == "the session has expired: log in again"


def test_activity_extends_the_session(make_world) -> None:
    world = make_world(session_idle_seconds=IDLE)
    browser = _logged_in(world)
    _idle_for(world, IDLE - 60)
    assert "Log out" in browser.get("/projects").text
    with world.db.read() as session:
        seen = session.execute(select(BrowserSessionRow.last_seen_at)).scalar_one()
    assert utcnow() - seen < dt.timedelta(minutes=1)
    _idle_for(world, IDLE - 60)
    assert "Log out" in browser.get("/projects").text


def test_session_user_honours_the_idle_time_on_both_databases(database) -> None:
    user, _ = users.create_user(database, actor="cli:test", name="ann", role="annotator")
    secret, csrf = users.create_browser_session(database, user.id)
    idle = dt.timedelta(minutes=30)
    assert users.session_user(database, secret, idle=idle) == (user, csrf)
    with database.transaction() as session:
        session.execute(
            update(BrowserSessionRow).values(last_seen_at=utcnow() - dt.timedelta(minutes=31))
        )
    assert users.session_user(database, secret, idle=idle) is None
    # Without an idle time only the session's lifetime counts.
    assert users.session_user(database, secret) == (user, csrf)
