"""Round commands: ``train``, ``push``, ``query``, ``status``, ``fairness``,
``auto-labels``, ``versions list`` and ``versions diff``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from labelloop.cli.common import (
    DaskOption,
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
    if value and "f1" in value and "precision" in value:  # an entity project's span scores
        return (
            f"span P {value['precision']:.3f}  R {value['recall']:.3f}  "
            f"F1 {value['f1']:.3f}  (n={value['n']})"
        )
    if not value or "accuracy" not in value:
        return "-"
    interval = ""
    if "accuracy_ci" in value:  # rounds recorded before intervals have none
        low, high = value["accuracy_ci"]
        interval = f" [{low:.3f}, {high:.3f}]"
    return f"acc {value['accuracy']:.3f}{interval}  F1 {value['macro_f1']:.3f}  (n={value['n']})"


@app.command("train")
@reports_errors
def train(project: ProjectArg, db: DbOption = None, dask: DaskOption = None) -> None:
    """Train on the current labels, score the pool and refresh the queue: one round."""
    from labelloop.engine.rounds import train as train_round

    with using_database(db) as database, stage_progress(_STAGES) as progress:
        info = train_round(
            database, actor=cli_actor(), project=project, progress=progress, dask=dask
        )
    model = f"model version {info.model_version}" if info.model_version else "no model yet"
    err_console.print(
        f"round {info.number}: dataset version {info.dataset_version} "
        f"({info.n_labels} labels), {model}, strategy {info.strategy}, "
        f"{len(info.batch)} items picked"
        + (
            f" ({info.metrics['tokens_selected']} tokens)"
            if "tokens_selected" in info.metrics
            else ""
        ),
        highlight=False,
    )
    if info.model_version:
        err_console.print(f"  eval set:         {_metric(info.metrics, 'eval')}", highlight=False)
        err_console.print(f"  cross-validation: {_metric(info.metrics, 'cv')}", highlight=False)
    auto = info.metrics.get("auto_label")
    if auto is not None:
        err_console.print(f"  auto-labels:      {_auto_metrics(auto)}", highlight=False)
    cluster = info.metrics.get("dask")
    if cluster is not None:
        err_console.print(
            f"  scored on Dask:   {cluster['pool_scored']} items in {cluster['partitions']} "
            f"partitions, {cluster['candidates']} candidates",
            highlight=False,
        )


def _auto_metrics(auto: dict[str, Any]) -> str:
    """A round's auto-labelling in words."""
    if auto.get("paused"):
        return f"paused: {auto['paused']}"
    if auto.get("threshold") is None and not any((auto.get("thresholds") or {}).values()):
        needed = auto.get("labels_needed")
        if needed is None:
            return "none: the model is not precise enough, even where it is most sure"
        return f"none: about {needed} more evaluation labels would allow a certified threshold"
    return (
        f"{auto['n_labelled']} items ({auto['n_spot_checks']} sent to people as spot checks), "
        f"threshold {auto['threshold']:.6f}, precision >= {auto['bound']:.3f} "
        f"with probability {1 - auto['risk']:.0%}"
    )


@app.command("push")
@reports_errors
def push(
    project: ProjectArg,
    predictions: Annotated[
        Path,
        typer.Argument(
            help="A JSONL file, one prediction a line: {item_id, probabilities, embedding?}, "
            "or for a box project {item_id, boxes: [{bbox: [x1, y1, x2, y2], label, score, "
            "probabilities?}]} in pixels.",
            exists=True,
            dir_okay=False,
        ),
    ],
    model_version: Annotated[
        str, typer.Option("--model-version", "-m", help="Your model's version string.")
    ],
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            max=10_000,
            help="Predictions per push; each push is all-or-nothing (earlier ones stay).",
        ),
    ] = 10_000,
    db: DbOption = None,
) -> None:
    """Push a client model's predictions (class probabilities, or an image's boxes) and
    re-prioritise the queue by their informativeness."""
    from labelloop.engine.predictions import push_predictions
    from labelloop.exceptions import ImportDataError
    from labelloop.io.jsonl import read_jsonl

    rows = [value for _, value in read_jsonl(predictions)]
    if not rows:
        raise ImportDataError("no predictions in the file", path=str(predictions))
    n = n_boxes = n_unsure = 0
    with using_database(db) as database:
        for start in range(0, len(rows), batch_size):
            try:
                report = push_predictions(
                    database,
                    project_id=project,
                    actor=cli_actor(),
                    model_version=model_version,
                    predictions=rows[start : start + batch_size],
                )
            except ImportDataError:
                raise
            except ValueError as error:
                # Name the line: predictions.<i> of this batch is line start + i + 1.
                field = getattr(error, "field", None) or ""
                parts = field.split(".")
                line = start + int(parts[1]) + 1 if len(parts) > 1 and parts[1].isdigit() else None
                raise ImportDataError(
                    str(error), path=str(predictions), line=line, field=".".join(parts[2:]) or None
                ) from None
            n += report.n_predictions
            n_boxes += report.n_boxes
            n_unsure += report.n_unsure_boxes
    boxes = f" ({n_boxes} boxes, {n_unsure} unsure)" if n_boxes else ""
    out_console.print(f"pushed {n} predictions{boxes} as {report.model_name}", highlight=False)


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
    # The verdict in plain words first; the criteria's statistics on the line below.
    style = "yellow" if info.should_stop else "green"
    out_console.print(f"[bold {style}]{info.headline}[/]", highlight=False)
    out_console.print(f"[dim]details: {info.details}[/]", highlight=False)
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
    if info.n_boxes_labelled is not None:
        out_console.print(f"boxes labelled: {info.n_boxes_labelled}", highlight=False)
    if info.tokens is not None:
        budget = info.tokens["budget"]
        out_console.print(
            f"tokens: {info.tokens['labelled']} labelled, {info.tokens['pool']} in the pool"
            + (f", budget {budget}" if budget else ""),
            highlight=False,
        )
    if info.label_counts:
        per_class = ", ".join(
            f"{name} {count}" + (" (rare)" if name in info.rare_labels else "")
            for name, count in info.label_counts.items()
        )
        unit = "boxes" if info.n_boxes_labelled is not None else "labels"
        out_console.print(f"{unit} per class: {per_class}", highlight=False)
    auto = info.auto_label
    if auto is not None and (auto.enabled or auto.n_auto_labelled):
        checks = auto.spot_checks
        measured = "no spot check decided yet"
        if checks.precision is not None:
            measured = (
                f"spot checks {checks.correct} of {checks.checked} confirmed: precision "
                f"{checks.precision:.1%} [{checks.low:.1%}, {checks.high:.1%}]"
            )
        style = "yellow" if auto.paused else "green"
        out_console.print(
            f"[{style}]auto-labels: {auto.n_auto_labelled} items; {measured}; {auto.note}[/]",
            highlight=False,
        )
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
    for sentence in worth.sentences:
        out_console.print(sentence, highlight=False, markup=False)


@app.command("auto-labels")
@reports_errors
def auto_labels(
    project: ProjectArg,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 20,
    spot_checks: Annotated[
        bool, typer.Option("--spot-checks", help="Only those sent to people as spot checks.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume auto-labelling after spot checks paused it.")
    ] = False,
    db: DbOption = None,
) -> None:
    """The project's auto-labels with what certified each; --resume after a pause."""
    from labelloop.engine.auto_labels import list_auto_labels, resume_auto_labelling

    with using_database(db) as database:
        if resume:
            resume_auto_labelling(database, actor=cli_actor(), project=project)
            err_console.print("auto-labelling resumed", highlight=False)
            return
        rows = list_auto_labels(database, project, limit=limit, spot_checks_only=spot_checks)
    table = Table(title="auto-labels")
    for name in ("item", "label", "model", "round", "confidence", "threshold", "bound",
                 "spot check", "people's label"):  # fmt: skip
        table.add_column(name)
    for row in rows:
        table.add_row(
            row.external_id,
            json.dumps(row.label) if not isinstance(row.label, str) else row.label,
            str(row.model_version or "-"),
            str(row.round),
            f"{row.confidence:.6f}",
            f"{row.threshold:.6f}",
            f"{row.bound:.3f}",
            "yes" if row.spot_check else "",
            "" if row.people_label is None else str(row.people_label),
        )
    out_console.print(table)


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


@app.command("fairness")
@reports_errors
def fairness(
    project: ProjectArg,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field", help="A metadata key to group by (repeatable; default group_fields)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
    db: DbOption = None,
) -> None:
    """Per group: shares of the pool, the labels and the evaluation set, the model's
    accuracy and macro-F1 with intervals, its gap to the rest, agreement, and flags."""
    import dataclasses

    from labelloop.engine.fairness import fairness_report

    with using_database(db) as database:
        report = fairness_report(database, project=project, fields=field or None)
    if as_json:
        out_console.print_json(json.dumps(dataclasses.asdict(report)))
        return
    for f in report.fields:
        table = Table(title=f"groups by {f.field}")
        for name in ("group", "pool", "labels", "eval set", "accuracy", "macro-F1", "gap", "flags"):
            table.add_column(name)
        for g in f.groups:
            table.add_row(
                g.group,
                f"{g.pool_share:.1%} ({g.n_pool:,})",
                f"{g.label_share:.1%} ({g.n_labelled:,})",
                f"{g.eval_share:.1%} ({g.n_eval:,})",
                _interval(g.accuracy, g.accuracy_ci, n=g.n_eval_labelled),
                _interval(g.macro_f1, g.macro_f1_ci),
                _interval(g.accuracy_gap, g.accuracy_gap_ci, signed=True),
                "; ".join(g.flags) or "-",
            )
        out_console.print(table)
    if report.note:
        err_console.print(f"[yellow]{report.note}[/]", highlight=False)


def _interval(
    value: float | None,
    interval: tuple[float, float] | None,
    *,
    n: int | None = None,
    signed: bool = False,
) -> str:
    if value is None or interval is None:
        return "-"
    form = "{:+.3f}" if signed else "{:.3f}"
    text = f"{form.format(value)} [{form.format(interval[0])}, {form.format(interval[1])}]"
    return text if n is None else f"{text} n={n}"
