"""Webhooks: registration, signed delivery to a real HTTP receiver, retries, give-up."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from _service_setup import make_project

from labelloop.engine import webhooks
from labelloop.engine.core import outbox
from labelloop.exceptions import NotFoundError, ValidationError


class Receiver:
    """An HTTP server on loopback that checks signatures and answers scripted statuses."""

    def __init__(self, secret: str, statuses: list[int]) -> None:
        self.secret = secret
        self.statuses = statuses
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = (
                    "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                )
                receiver.received.append(
                    {
                        "event": self.headers["X-Labelloop-Event"],
                        "valid": hmac.compare_digest(
                            expected, self.headers["X-Labelloop-Signature"]
                        ),
                        "body": json.loads(body),
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _emit(db, project, event="annotation.created", payload=None):
    with db.transaction() as session:
        return outbox.emit_event(
            session, project_id=project, event=event, payload=payload or {"item_id": "a"}
        )


def test_register_validates_and_lists_without_secret(sqlite_db):
    project = make_project(sqlite_db)
    with pytest.raises(ValidationError) as err:
        webhooks.register_webhook(
            sqlite_db, actor="t", project_id=project, url="ftp://x/y", events=["batch.ready"]
        )
    assert err.value.field == "url"
    with pytest.raises(ValidationError) as err:
        webhooks.register_webhook(
            sqlite_db, actor="t", project_id=project, url="http://x/y", events=["nope"]
        )
    assert err.value.field == "events"
    hook = webhooks.register_webhook(
        sqlite_db, actor="t", project_id=project, url="http://x/y", events=["batch.ready"]
    )
    assert hook.secret and len(hook.secret) >= 32
    [listed] = webhooks.list_webhooks(sqlite_db, project)
    assert listed.id == hook.id and listed.secret is None
    webhooks.delete_webhook(sqlite_db, actor="t", project_id=project, webhook_id=hook.id)
    assert webhooks.list_webhooks(sqlite_db, project) == []
    with pytest.raises(NotFoundError):
        webhooks.delete_webhook(sqlite_db, actor="t", project_id=project, webhook_id=hook.id)


def test_signed_delivery_with_retry_and_back_off(database):
    project = make_project(database)
    secret = "s" * 32
    with Receiver(secret, statuses=[500]) as receiver:
        hook = webhooks.register_webhook(
            database,
            actor="t",
            project_id=project,
            url=receiver.url,
            events=["annotation.created", "review.completed"],
            secret=secret,
        )
        assert _emit(database, project) == 1
        assert _emit(database, project, event="batch.ready") == 0  # not subscribed
        t0 = dt.datetime.now(dt.UTC)
        assert webhooks.deliver_due(database, now=t0) == 1
        [first] = webhooks.list_deliveries(database, hook.id)
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert first.next_attempt_at == t0 + webhooks.RETRY_BASE
        # Not due yet: nothing is sent.
        assert webhooks.deliver_due(database, now=t0 + dt.timedelta(seconds=1)) == 0
        assert webhooks.deliver_due(database, now=t0 + webhooks.RETRY_BASE) == 1
        [done] = webhooks.list_deliveries(database, hook.id)
        assert (done.status, done.attempts, done.last_status_code) == ("delivered", 2, 200)
    assert [r["valid"] for r in receiver.received] == [True, True]
    body = receiver.received[-1]["body"]
    assert body["event"] == "annotation.created" and body["data"] == {"item_id": "a"}
    assert receiver.received[-1]["event"] == "annotation.created"


def test_delivery_gives_up_after_max_attempts(sqlite_db):
    project = make_project(sqlite_db)
    hook = webhooks.register_webhook(
        sqlite_db,
        actor="t",
        project_id=project,
        url="http://127.0.0.1:9/closed",  # the discard port: connection refused
        events=["batch.ready"],
    )
    _emit(sqlite_db, project, event="batch.ready")
    now = dt.datetime.now(dt.UTC)
    for _ in range(webhooks.MAX_ATTEMPTS):
        assert webhooks.deliver_due(sqlite_db, now=now) == 1
        now += dt.timedelta(hours=2)
    assert webhooks.deliver_due(sqlite_db, now=now) == 0
    [failed] = webhooks.list_deliveries(sqlite_db, hook.id)
    assert failed.status == "failed" and failed.attempts == webhooks.MAX_ATTEMPTS
    assert failed.last_status_code is None and "Connect" in failed.last_error
