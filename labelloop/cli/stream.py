"""Stream mode commands: ``stream offer`` (items one at a time, decided on arrival) and
``stream status``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli.common import (
    DbOption,
    JsonLinesOption,
    app,
    cli_actor,
    print_listing,
    reports_errors,
    say,
    using_database,
)

__all__ = ["stream_app"]

stream_app = typer.Typer(
    help="Stream mode: items decided one at a time on arrival, under a hard label budget.",
    no_args_is_help=True,
)
app.add_typer(stream_app, name="stream")

ProjectArg = Annotated[str, typer.Argument(help="The project's name or id.")]


@stream_app.command("offer")
@reports_errors
def offer(
    project: ProjectArg,
    source: Annotated[
        Path, typer.Argument(help="A JSONL file of records without labels, in arrival order.")
    ],
    as_json: JsonLinesOption = False,
    db: DbOption = None,
) -> None:
    """Offer a file's records one by one, as if they arrived: each is asked (queued for
    people now), auto-labelled (auto_label on and the model certified sure of it) or
    parked (kept in the pool) by the latest model and the project's stream_* settings.
    Each arrival stands on its own: a bad record stops the command, naming its line,
    and the records before it stay offered."""
    from labelloop.engine.stream import offer_item
    from labelloop.exceptions import ConflictError
    from labelloop.io.jsonl import read_jsonl

    decisions = []
    with using_database(db) as database:
        for line, record in read_jsonl(source):
            try:
                decisions.append(
                    offer_item(
                        database,
                        project=project,
                        record=record,
                        actor=cli_actor(),
                        source=str(source),
                        line=line,
                    )
                )
            except ConflictError as exc:
                raise ConflictError(f"{source}:{line}: {exc}") from None
    if as_json:
        for d in decisions:
            sys.stdout.write(json.dumps(d.__dict__) + "\n")
    else:
        print_listing(
            decisions,
            as_json=False,
            record=lambda d: d.__dict__,
            columns=("item", "decision", "informativeness", "reason"),
            row=lambda d: (
                d.item_id,
                d.decision,
                "-" if d.informativeness is None else f"{d.informativeness:.3f}",
                d.reason,
            ),
        )
    if decisions:
        last = decisions[-1]
        say(
            f"offered {len(decisions)} item(s): "
            f"{sum(d.decision == 'ask' for d in decisions)} asked, "
            f"{sum(d.decision == 'auto-label' for d in decisions)} auto-labelled, "
            f"{sum(d.decision == 'park' for d in decisions)} parked; "
            f"the stream has asked {last.asked} of {last.arrivals} arrivals "
            f"(at most {last.allowed} allowed)"
        )


@stream_app.command("status")
@reports_errors
def status(project: ProjectArg, db: DbOption = None) -> None:
    """Arrivals, asks, the budget's bound and the uncertainty threshold so far."""
    from labelloop.engine.stream import stream_status

    with using_database(db) as database:
        info = stream_status(database, project=project)
    budget = (
        f"{info.labels_per_hour:g} labels per hour"
        if info.labels_per_hour is not None
        else f"{info.budget:.1%} of arrivals"
    )
    bound = "" if info.allowed is None else f" (the budget allows {info.allowed})"
    threshold = "-" if info.threshold is None else f"{info.threshold:.3f}"
    say(
        f"{info.arrivals} arrivals, {info.asked} asked{bound}; budget {budget}, "
        f"exploration {info.explore:.0%}, threshold {threshold}"
    )
