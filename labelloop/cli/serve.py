"""``labelloop serve``: build the HTTP app over the database and hand it to uvicorn."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from labelloop.cli.common import (
    DaskOption,
    DbOption,
    app,
    err_console,
    reports_errors,
    using_database,
)

if TYPE_CHECKING:
    from labelloop.server import ServerSettings
    from labelloop.server.protocol import ServingStack
    from labelloop.store.db import Database

__all__ = ["serve"]


@app.command("serve")
@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    db: DbOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Pull mode: the client model's prediction URL, called in batches with "
            'POST {"project_id", "labels", "items": [{"id", "payload"}]} and answering '
            '{"model_version", "predictions": [{"id", "probabilities", "embedding"}]} '
            "(embedding optional).",
        ),
    ] = None,
    model_protocol: Annotated[
        str,
        typer.Option(
            "--model-protocol",
            help="What --model speaks: labelloop (the request above) or label-studio (a "
            "Label Studio ML backend's base URL; its /predict is called with Label Studio "
            "tasks and its results' choices and scores are read back as probabilities).",
        ),
    ] = "labelloop",
    media_root: Annotated[
        Path | None,
        typer.Option(help="Directory media items are served from (nothing outside it)."),
    ] = None,
    worker: Annotated[
        bool, typer.Option(help="Run retrains, webhook deliveries and pull mode in a thread.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port; one per core suits a busy team (the "
            "job worker runs once, here).",
        ),
    ] = 1,
    lease_seconds: Annotated[
        int | None, typer.Option(min=1, help="Override the projects' lease time.")
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option(min=1, help="Largest request body accepted (413 above).")
    ] = 8 * 1024 * 1024,
    session_idle_seconds: Annotated[
        int | None,
        typer.Option(min=1, help="A browser session unused this long expires (default 8 h)."),
    ] = None,
    login_backoff_after: Annotated[
        int | None,
        typer.Option(
            min=1, help="Failed log-ins of an account before a doubling back-off (default 5)."
        ),
    ] = None,
    login_lock_after: Annotated[
        int | None,
        typer.Option(min=1, help="Failed log-ins that lock the account (default 10)."),
    ] = None,
    login_lock_seconds: Annotated[
        int | None, typer.Option(min=1, help="How long a lock lasts (default 900 s).")
    ] = None,
    login_address_backoff_after: Annotated[
        int | None,
        typer.Option(
            min=1, help="Failed log-ins from one address before its back-off (default 20)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    http: Annotated[
        str,
        typer.Option(
            "--http",
            help="HTTP parser: auto (httptools when it can be imported, else h11), httptools "
            "(uvicorn's C parser, the least CPU per request) or h11 (pure Python).",
        ),
    ] = "auto",
    loop: Annotated[
        str,
        typer.Option(
            "--loop",
            help="Event loop: auto (uvloop when it can be imported, else asyncio), uvloop "
            "(libuv's) or asyncio (Python's own).",
        ),
    ] = "auto",
    dask: DaskOption = None,
) -> None:
    """Serve the REST API (and the web UI) on HOST:PORT until interrupted."""
    import uvicorn

    from labelloop.server import ServerSettings, create_app
    from labelloop.server.protocol import serving_stack
    from labelloop.server.settings import SETTINGS_ENV

    stack = serving_stack(http, loop)
    for fallback in stack.fallbacks:
        err_console.print(f"warning: {fallback}", highlight=False)
    with using_database(db) as database:
        settings = ServerSettings(
            db_url=database.url,
            media_root=media_root,
            model_url=model,
            model_protocol=model_protocol,
            worker=worker,
            dask=dask,
            lease_seconds=lease_seconds,
            max_body_bytes=max_body_bytes,
            freeze_startup_objects=True,
            # Only what was given: the rest keep ServerSettings' defaults.
            **{
                name: value
                for name, value in (
                    ("session_idle_seconds", session_idle_seconds),
                    ("login_backoff_after", login_backoff_after),
                    ("login_lock_after", login_lock_after),
                    ("login_lock_seconds", login_lock_seconds),
                    ("login_address_backoff_after", login_address_backoff_after),
                )
                if value is not None
            },
        )
        err_console.print(
            f"labelloop serving {database!r} on http://{host}:{port} "
            f"(API /api/v1, schema /openapi.json, {workers} process{'es' if workers > 1 else ''}"
            f"{', worker on' if worker else ''}, {stack.http} on {stack.loop})",
            highlight=False,
        )
        if workers == 1:
            http_app = create_app(settings, db=database)
            uvicorn.run(
                http_app,
                host=host,
                port=port,
                log_level=log_level,
                http=stack.protocol,
                loop=stack.loop,
            )
        else:
            _serve_processes(
                settings,
                database,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                settings_env=SETTINGS_ENV,
                stack=stack,
            )


def _serve_processes(
    settings: ServerSettings,
    database: Database,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    settings_env: str,
    stack: ServingStack,
) -> None:
    """Several uvicorn processes; the background worker runs once, in this process.

    The caller disposes of ``database`` afterwards.
    """
    import uvicorn

    from labelloop.server.worker import BackgroundWorker

    os.environ[settings_env] = replace(settings, worker=False).to_json()
    background = BackgroundWorker(database, settings) if settings.worker else None
    if background is not None:
        background.start()
    try:
        uvicorn.run(
            "labelloop.server.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            # uvicorn binds the shared socket without TCP_NODELAY: see labelloop.server.protocol.
            http=stack.protocol,
            loop=stack.loop,
        )
    finally:
        if background is not None:
            background.stop()
