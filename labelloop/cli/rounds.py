"""Round commands: ``train``, ``query``, ``status``, ``versions list`` and ``versions diff``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from labelloop.cli.common import (
    DbOption,
    app,
    cli_actor,
    err_console,
    out_console,
    reports_errors,
    stage_progress,
    using_database,
)

__all__ = ["versions_app"]

versions_app = typer.Typer(help="Dataset versions: list and diff.", no_args_is_help=True)
app.add_typer(versions_app, name="versions")

ProjectArg = Annotated[str, typer.Argument(help="The project's name or id.")]
_STAGES = {"fit": "fitting the model", "score": "scoring the pool", "write": "updating the queue"}


def _metric(metrics: dict[str, Any], key: str) -> str:
    value = metrics.get(key)
    if not value or "accuracy" not in value:
        return "-"
    interval = ""
    if "accuracy_ci" in value:  # rounds recorded before intervals have none
        low, high = value["accuracy_ci"]
        interval = f" [{low:.3f}, {high:.3f}]"
    return f"acc {value['accuracy']:.3f}{interval}  F1 {value['macro_f1']:.3f}  (n={value['n']})"


@app.command("train")
@reports_errors
def train(project: ProjectArg, db: DbOption = None) -> None:
    """Train on the current labels, score the pool and refresh the queue: one round."""
    from labelloop.engine.rounds import train as train_round

    with using_database(db) as database, stage_progress(_STAGES) as progress:
        info = train_round(database, actor=cli_actor(), project=project, progress=progress)
    model = f"model version {info.model_version}" if info.model_version else "no model yet"
    err_console.print(
        f"round {info.number}: dataset version {info.dataset_version} "
        f"({info.n_labels} labels), {model}, strategy {info.strategy}, "
        f"{len(info.batch)} items picked",
        highlight=False,
    )
    if info.model_version:
        err_console.print(f"  eval set:         {_metric(info.metrics, 'eval')}", highlight=False)
        err_console.print(f"  cross-validation: {_metric(info.metrics, 'cv')}", highlight=False)


@app.command("query")
@reports_errors
def query(
    project: ProjectArg,
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many items to list.")] = 10,
    db: DbOption = None,
) -> None:
    """List the next batch to label: external id, score and why each item was picked."""
    from labelloop.engine.rounds import query as query_batch

    with using_database(db) as database:
        rows = query_batch(database, project, n)
    table = Table(title=f"next {len(rows)} to label")
    table.add_column("#", justify="right")
    table.add_column("id")
    table.add_column("score", justify="right")
    table.add_column("priority", justify="right")
    table.add_column("reason")
    for rank, row in enumerate(rows, 1):
        score = "-" if row.score is None else f"{row.score:.4f}"
        table.add_row(str(rank), row.external_id, score, f"{row.priority:.3f}", row.reason)
    out_console.print(table)


@app.command("status")
@reports_errors
def status(project: ProjectArg, db: DbOption = None) -> None:
    """Counts, rounds, whether labelling still pays off, savings and the forecast to the target."""
    from labelloop.engine.rounds import project_status, project_worth

    with using_database(db) as database:
        info = project_status(database, project)
        worth = project_worth(database, project)
    counts = Table(title=f"project {info.project}")
    for name in ("items", "labelled", "open", "in review", "eval set", "eval labelled"):
        counts.add_column(name, justify="right")
    counts.add_row(
        *map(
            str,
            (
                info.n_items,
                info.n_labelled,
                info.n_open,
                info.n_in_review,
                info.n_eval,
                info.n_eval_labelled,
            ),
        )
    )
    out_console.print(counts)
    if info.rounds:
        table = Table(title="rounds")
        for name in ("round", "dataset", "model", "labels", "strategy", "eval set", "cross-val"):
            table.add_column(name)
        for r in info.rounds:
            table.add_row(
                str(r.number),
                str(r.dataset_version or "-"),
                str(r.model_version or "-"),
                str(r.n_labels),
                r.strategy,
                _metric(r.metrics, "eval"),
                _metric(r.metrics, "cv"),
            )
        out_console.print(table)
    if info.eval_note is not None:
        out_console.print(f"[yellow]eval set: {info.eval_note}[/]", highlight=False)
    style = "yellow" if info.should_stop else "green"
    out_console.print(f"[{style}]{info.verdict}[/]", highlight=False)
    for sentence in worth.sentences:
        out_console.print(sentence, highlight=False, markup=False)


@versions_app.command("list")
@reports_errors
def versions_list(project: ProjectArg, db: DbOption = None) -> None:
    """Every dataset version: its number, size, author and the models trained on it."""
    from labelloop.engine.versions import list_dataset_versions

    with using_database(db) as database:
        infos = list_dataset_versions(database, project)
    table = Table(title="dataset versions")
    for name in ("version", "items", "created by", "created at", "model versions"):
        table.add_column(name)
    for v in infos:
        table.add_row(
            str(v.version),
            str(v.n_items),
            v.created_by,
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            ", ".join(map(str, v.model_versions)) or "-",
        )
    out_console.print(table)


@versions_app.command("diff")
@reports_errors
def versions_diff(
    project: ProjectArg,
    a: Annotated[int, typer.Argument(help="The older dataset version.")],
    b: Annotated[int, typer.Argument(help="The newer dataset version.")],
    db: DbOption = None,
) -> None:
    """What changed between two dataset versions: items added, removed and relabelled."""
    from labelloop.engine.versions import diff_dataset_versions

    with using_database(db) as database:
        diff = diff_dataset_versions(database, project, a, b)
    out_console.print(
        f"dataset version {diff.a} -> {diff.b}: {len(diff.added)} added, "
        f"{len(diff.removed)} removed, {len(diff.relabelled)} relabelled",
        highlight=False,
    )
    for external_id in diff.added:
        out_console.print(f"+ {external_id}", highlight=False, markup=False)
    for external_id in diff.removed:
        out_console.print(f"- {external_id}", highlight=False, markup=False)
    for change in diff.relabelled:
        out_console.print(
            f"~ {change.external_id}: {json.dumps(change.before)} -> {json.dumps(change.after)}",
            highlight=False,
            markup=False,
        )
