"""Webhook deliveries from the service's worker, verified by a receiver running in the test."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

API = "/api/v1"
SECRET = "a-webhook-secret-of-some-length"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_annotation_event_is_delivered_signed(make_world, receiver) -> None:
    world = make_world(n_items=3, worker=True, worker_poll_seconds=0.1)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    hook = world.call(
        "admin",
        "POST",
        f"{API}/projects/{world.project_id}/webhooks",
        json={"url": url, "events": ["annotation.created"], "secret": SECRET},
    )
    assert hook.status_code == 201, hook.text
    assert hook.json()["secret"] == SECRET
    listed = world.call("admin", "GET", f"{API}/projects/{world.project_id}/webhooks").json()
    assert listed[0]["secret"] is None  # shown once, at registration

    task = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next").json()
    made = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "neg"}
    ).json()

    deadline = time.monotonic() + 30
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.received, "no delivery arrived"
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-labelloop-signature"], expected)
    assert headers["x-labelloop-event"] == "annotation.created"
    payload = json.loads(body)
    assert json.dumps(payload).count(str(made["id"])) >= 1

    deliveries_url = f"{API}/projects/{world.project_id}/webhooks/{hook.json()['id']}/deliveries"
    while time.monotonic() < deadline:
        deliveries = world.call("admin", "GET", deliveries_url).json()
        if deliveries and deliveries[0]["status"] == "delivered":
            break
        time.sleep(0.05)
    assert deliveries[0]["status"] == "delivered"
    assert deliveries[0]["last_status_code"] == 200
