"""Guidelines that learn: ``guidelines`` shows each version's rates, the disagreements and
the mislabelled clusters; ``guideline-examples`` adds examples as a new version."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

from labelloop.cli.common import (
    DbOption,
    app,
    cli_actor,
    out_console,
    reports_errors,
    say,
    using_database,
)

__all__ = ["guideline_examples", "guidelines"]

ProjectArg = Annotated[str, typer.Argument(help="The project's name or id.")]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _label(value: Any) -> str:
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)


@app.command("guidelines")
@reports_errors
def guidelines(
    project: ProjectArg,
    clusters: Annotated[int, typer.Option(help="At most this many clusters of items.")] = 8,
    min_rate: Annotated[
        float, typer.Option(help="A cluster with this share of disagreements is mislabelled.")
    ] = 0.25,
    min_flagged: Annotated[
        int, typer.Option(help="...and at least this many items with a disagreement.")
    ] = 3,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON object: versions, groups and clusters."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Guideline versions with the agreement, correction and rejection rates of the labels
    made under each; where people disagree, by confusion and cluster; mislabelled clusters."""
    from labelloop.engine import disagreements
    from labelloop.engine import projects as project_engine

    with using_database(db) as database:
        versions = project_engine.guideline_versions(database, project)
        report = disagreements.disagreement_report(
            database, project, n_clusters=clusters, min_rate=min_rate, min_flagged=min_flagged
        )
    if as_json:
        record = {"versions": [asdict(v) for v in versions], "disagreements": asdict(report)}
        sys.stdout.write(json.dumps(record, default=str) + "\n")
        return
    from rich.table import Table

    table = Table(
        "version",
        "by",
        "examples",
        "labels",
        "agreement",
        "reviewed",
        "corrected",
        "rejected",
        "what changed",
        title="Guideline versions",
    )
    for v in versions:
        table.add_row(
            str(v.version),
            v.created_by or "(before guidelines)",
            str(v.n_examples_added),
            str(v.n_annotations),
            _rate(v.agreement),
            str(v.n_reviewed),
            _rate(v.correction_rate),
            _rate(v.rejection_rate),
            v.note or "",
        )
    out_console.print(table)
    out_console.print(
        f"Disagreements: {report.n_disagreements} ({report.n_this_week} this week)",
        highlight=False,
    )
    for group in report.groups:
        ids = ", ".join(x.item_external_id for x in group.items[:5])
        out_console.print(f"  {group.description}  [items {ids}]", markup=False, highlight=False)
    if report.clusters_note:
        say(report.clusters_note)
    mislabelled = report.mislabelled_clusters
    out_console.print(f"Mislabelled clusters: {len(mislabelled) or 'none'}", highlight=False)
    for cluster in mislabelled:
        out_console.print(
            f"  {cluster.description}: {cluster.n_flagged} of {cluster.size} items disagreed"
            f" ({_rate(cluster.rate)})",
            markup=False,
            highlight=False,
        )


@app.command("guideline-examples")
@reports_errors
def guideline_examples(
    project: ProjectArg,
    items: Annotated[list[str], typer.Argument(help="The items (their imported ids).")],
    note: Annotated[str, typer.Option(help="What the examples teach (shown to annotators).")],
    db: DbOption = None,
) -> None:
    """Make items guideline examples with a note, as a new guideline version."""
    from labelloop.engine import projects as project_engine

    with using_database(db) as database:
        shown = project_engine.add_guideline_examples(
            database, actor=cli_actor(), project=project, external_ids=items, note=note
        )
    added = [e for e in shown.examples if e.version == shown.version]
    say(
        f"guideline version {shown.version}: {len(added)} examples added "
        f"({', '.join(f'{e.item_external_id} = {_label(e.label)}' for e in added)})"
    )
