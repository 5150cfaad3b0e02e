"""``labelloop serve``: build the HTTP app over the database and hand it to uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli.common import DbOption, app, err_console, open_database, reports_errors

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
            "POST {items: [{id, payload}]} -> {predictions: [...]}.",
        ),
    ] = None,
    media_root: Annotated[
        Path | None,
        typer.Option(help="Directory media items are served from (nothing outside it)."),
    ] = None,
    worker: Annotated[
        bool, typer.Option(help="Run retrains, webhook deliveries and pull mode in a thread.")
    ] = True,
    lease_seconds: Annotated[
        int | None, typer.Option(min=1, help="Override the projects' lease time.")
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option(min=1, help="Largest request body accepted (413 above).")
    ] = 8 * 1024 * 1024,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the REST API (and the web UI) on HOST:PORT until interrupted."""
    import uvicorn

    from labelloop.server import ServerSettings, create_app

    database = open_database(db)
    settings = ServerSettings(
        db_url=database.url,
        media_root=media_root,
        model_url=model,
        worker=worker,
        lease_seconds=lease_seconds,
        max_body_bytes=max_body_bytes,
    )
    application = create_app(settings, db=database)
    err_console.print(
        f"labelloop serving {database!r} on http://{host}:{port} "
        f"(API /api/v1, schema /openapi.json{', worker on' if worker else ''})",
        highlight=False,
    )
    try:
        uvicorn.run(application, host=host, port=port, log_level=log_level)
    finally:
        database.dispose()
