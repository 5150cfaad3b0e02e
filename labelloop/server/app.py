"""`create_app(settings)`: the FastAPI application over the engine.

Nothing is created at import time: each call builds its own app on its own database,
so tests (and several apps in one process) never share state. The HTTP layer holds no
business rules: routers turn requests into engine calls and engine results into JSON.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from labelloop import __version__
from labelloop.server.body_limit import BodySizeLimit
from labelloop.server.errors import install_error_handlers
from labelloop.server.schemas import ErrorPublic, HealthPublic
from labelloop.server.server_timing import ServerTiming
from labelloop.server.settings import ServerSettings
from labelloop.store.db import Database

__all__ = ["API_PREFIX", "create_app", "create_app_from_environment"]

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).parent / "static"

# One router module per resource, each exposing `router`; included in this order.
_API_ROUTERS = (
    "auth",
    "projects",
    "tasks",
    "annotations",
    "reviews",
    "quality",
    "guidelines",
    "predictions",
    "stream",
    "fairness",
    "labels",
    "rounds",
    "metrics",
    "webhooks",
    "users",
    "media",
    "feedback",
    "ui_api",
)
# The web UI's routers, included when installed.
_PAGE_ROUTERS = (
    "labelloop.server.routers.pages",
    "labelloop.server.routers.project_pages",
    "labelloop.server.routers.fairness_page",
    "labelloop.server.routers.quality_pages",
    "labelloop.server.routers.guidelines_pages",
    "labelloop.server.routers.account_pages",
)

_ERROR_RESPONSES = {
    code: {"model": ErrorPublic, "description": text}
    for code, text in (
        (401, "No token, or an unknown or revoked one."),
        (403, "The caller's role does not allow it."),
        (404, "Not there, or in a project the caller is not a member of."),
        (409, "The current state does not allow it."),
        (413, "The request body is too large."),
        (422, "The request is invalid; `field` names the place."),
    )
}


def create_app(settings: ServerSettings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the labelloop HTTP service.

    Parameters
    ----------
    settings : ServerSettings, optional
        Database URL, media root, limits, worker; defaults for everything if omitted.
    db : Database, optional
        An open database to use instead of opening ``settings.db_url`` (the caller
        then owns it and disposes of it).

    Returns
    -------
    FastAPI
        The app: REST API under ``/api/v1``, ``/healthz``, OpenAPI at ``/openapi.json``,
        and the web UI at ``/`` when its pages module is installed.
    """
    settings = settings or ServerSettings()
    owns_db = db is None
    database = db if db is not None else Database.from_url(settings.db_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.worker:
            from labelloop.server.worker import BackgroundWorker

            worker = BackgroundWorker(database, settings)
            worker.start()
        app.state.worker = worker
        await _warm_up(app)
        if settings.freeze_startup_objects:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if owns_db:
                database.dispose()

    app = FastAPI(
        title="labelloop",
        version=__version__,
        summary="Active learning for data annotation: the model picks what humans label next.",
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    app.state.db = database
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: its ``app`` duration covers the other middleware too.
    app.add_middleware(ServerTiming)

    @app.get("/healthz", tags=["health"], response_model=HealthPublic)
    def healthz() -> HealthPublic:
        """Liveness: the process answers (no database access)."""
        return HealthPublic(status="ok", version=__version__)

    for name in _API_ROUTERS:
        module = importlib.import_module(f"labelloop.server.routers.{name}")
        app.include_router(module.router, prefix=API_PREFIX)
    # Label Studio appends its own paths to the backend URL: not under the API prefix.
    app.include_router(importlib.import_module("labelloop.server.routers.label_studio").router)
    for name in _PAGE_ROUTERS:
        if importlib.util.find_spec(name) is not None:
            app.include_router(importlib.import_module(name).router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _warm_up(app: FastAPI) -> None:
    """Send one request through the whole stack before the first client does.

    The middleware stack and the routers' matching tables are built on the first request
    that reaches them; on a busy server that first request stalled every other one that
    came in meanwhile (about 150 ms for the ~100 routes). The request asks for a path no
    route has, so it touches no data and answers 404.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"{API_PREFIX}/-warm-up",
        "raw_path": f"{API_PREFIX}/-warm-up".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
        "app": app,
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        return None

    await app(scope, receive, send)


def create_app_from_environment() -> FastAPI:
    """`create_app` with settings from ``$LABELLOOP_SERVER_SETTINGS``.

    The factory each worker process of ``labelloop serve --workers N`` calls.
    """
    return create_app(ServerSettings.from_environment())
