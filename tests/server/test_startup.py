"""What the service does once at start-up: the warm-up request and the frozen heap."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from labelloop.server import ServerSettings, create_app


def test_start_up_warms_the_stack_and_can_freeze_the_heap(sqlite_db) -> None:
    gc.unfreeze()
    try:
        app = create_app(ServerSettings(freeze_startup_objects=True), db=sqlite_db)
        assert app.middleware_stack is None  # built on the first request
        with TestClient(app) as client:
            # Built by the warm-up request, before any client asked anything.
            assert app.middleware_stack is not None
            assert gc.get_freeze_count() > 0
            assert client.get("/healthz").json()["status"] == "ok"
    finally:
        gc.unfreeze()


def test_the_heap_is_left_alone_unless_asked(sqlite_db) -> None:
    gc.unfreeze()
    with TestClient(create_app(ServerSettings(), db=sqlite_db)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
