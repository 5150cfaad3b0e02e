"""Project commands: ``project create|list|show|set|guidelines``, ``import``, ``export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from labelloop.cli.common import (
    DbOption,
    JsonLinesOption,
    app,
    cli_actor,
    out_console,
    print_listing,
    reports_errors,
    say,
    stage_progress,
    using_database,
)
from labelloop.engine.core.settings import SETTINGS
from labelloop.exceptions import ValidationError

# Named in the help of --set and `project set`, from the one table of settings.
_SETTING_NAMES = ", ".join(setting.name for setting in SETTINGS)

__all__ = ["project_app"]

project_app = typer.Typer(
    help="Labelling projects: create, list, show, settings.", no_args_is_help=True
)
app.add_typer(project_app, name="project")


def _parse_assignment(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValidationError(f"expected KEY=VALUE, got {text!r}", field="settings")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word: a string
    return key.strip(), value


def _show(info: Any) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("id", info.id),
        ("name", info.name),
        ("task", info.task_type),
        ("labels", ", ".join(info.labels)),
        ("multi-label", "yes" if info.multi_label else "no"),
        ("strategy", info.strategy),
        ("guidelines", f"version {info.guideline_version}" if info.guideline_version else "none"),
        ("items", info.n_items),
        ("labelled", info.n_labelled),
        ("open", info.n_open),
        ("in review", info.n_in_review),
    ]
    rows += [(f"  {key}", json.dumps(value)) for key, value in info.settings.items()]
    for key, value in rows:
        table.add_row(key, str(value))
    out_console.print(table)


@project_app.command("create")
@reports_errors
def create(
    name: Annotated[str, typer.Argument(help="A unique project name.")],
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="classification, tabular, image, audio, video, ner (entity spans) or boxes "
            "(boxes on images).",
        ),
    ] = "classification",
    labels: Annotated[str, typer.Option("--labels", help="Comma-separated label names.")] = "",
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Several labels per item.")
    ] = False,
    strategy: Annotated[str, typer.Option("--strategy", help="Selection strategy.")] = "auto",
    guidelines: Annotated[
        Path | None, typer.Option("--guidelines", help="Guidelines as a Markdown file.")
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option("--set", help=f"A setting as KEY=VALUE (repeatable): {_SETTING_NAMES}."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a project."""
    from labelloop.engine.projects import create_project

    text = _read_text(guidelines) if guidelines is not None else None
    settings = dict(_parse_assignment(item) for item in setting or [])
    with using_database(db) as database:
        info = create_project(
            database,
            actor=cli_actor(),
            name=name,
            task_type=task,
            labels=labels.split(",") if labels else [],
            multi_label=multi_label,
            strategy=strategy,
            guidelines=text,
            settings=settings,
        )
    say(f"created project {info.name!r} (id {info.id})")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", field="guidelines") from None


@project_app.command("list")
@reports_errors
def list_(as_json: JsonLinesOption = False, db: DbOption = None) -> None:
    """List projects with their counts."""
    from labelloop.engine.projects import list_projects

    with using_database(db) as database:
        projects = list_projects(database)
    print_listing(
        projects,
        as_json=as_json,
        record=_summary,
        columns=("id", "name", "task", "labels", "items", "labelled", "open", "in review"),
        row=lambda info: (
            str(info.id),
            info.name,
            info.task_type,
            ", ".join(info.labels),
            str(info.n_items),
            str(info.n_labelled),
            str(info.n_open),
            str(info.n_in_review),
        ),
    )


def _summary(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "task_type": info.task_type,
        "labels": list(info.labels),
        "multi_label": info.multi_label,
        "strategy": info.strategy,
        "guideline_version": info.guideline_version,
        "settings": info.settings,
        "n_items": info.n_items,
        "n_labelled": info.n_labelled,
        "n_open": info.n_open,
        "n_in_review": info.n_in_review,
    }


@project_app.command("show")
@reports_errors
def show(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
    db: DbOption = None,
) -> None:
    """Show a project: schema, settings and counts."""
    from labelloop.engine.projects import get_project_info

    with using_database(db) as database:
        info = get_project_info(database, project)
    if as_json:
        sys.stdout.write(json.dumps(_summary(info)) + "\n")
    else:
        _show(info)


@project_app.command("set")
@reports_errors
def set_(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    assignments: Annotated[
        list[str],
        typer.Argument(
            help=f"KEY=VALUE pairs, values JSON or bare words. Keys: strategy, {_SETTING_NAMES}."
        ),
    ],
    db: DbOption = None,
) -> None:
    """Change settings (audited), e.g. overlap=2 review_policy=percent strategy=margin."""
    from labelloop.engine.projects import update_settings

    changes = dict(_parse_assignment(item) for item in assignments)
    with using_database(db) as database:
        info = update_settings(database, actor=cli_actor(), project=project, changes=changes)
    for key in changes:
        value = info.strategy if key == "strategy" else info.settings[key]
        say(f"{info.name}: {key} = {json.dumps(value)}")


@project_app.command("guidelines")
@reports_errors
def guidelines(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    file: Annotated[
        Path | None, typer.Argument(help="A Markdown file: stored as a new version.")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Print this version (default: current).")
    ] = None,
    changes: Annotated[
        bool,
        typer.Option(
            "--changes",
            help="Print what changed in that version since the one before, as +/- lines "
            "(or since --since).",
        ),
    ] = False,
    since: Annotated[
        int | None, typer.Option("--since", help="With --changes: the older version.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Print the project's guidelines, or store FILE as their new version."""
    from labelloop.engine.projects import get_guidelines, guideline_changes, set_guidelines

    with using_database(db) as database:
        if file is not None:
            text = _read_text(file)
            number = set_guidelines(database, actor=cli_actor(), project=project, text=text)
            say(f"stored guidelines version {number}")
            return
        if changes or since is not None:
            diff = guideline_changes(database, project, old=since, new=version)
            marks = {"same": "  ", "added": "+ ", "removed": "- "}
            say(f"version {diff.old} -> {diff.new}: {diff.added} added, {diff.removed} removed")
            for line in diff.lines:
                sys.stdout.write(marks[line.op] + line.text + "\n")
            return
        found = get_guidelines(database, project, version)
    if found is None:
        say("this project has no guidelines yet")
        return
    sys.stdout.write(found.text if found.text.endswith("\n") else found.text + "\n")


@app.command("import")
@reports_errors
def import_(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    source: Annotated[
        Path,
        typer.Argument(
            help="A JSONL, CSV, Parquet or Label Studio JSON file, a Hugging Face dataset "
            "(a save_to_disk directory or Parquet), a directory of media files, or for an "
            "entity project a JSONL, CoNLL, Label Studio JSON or Hugging Face dataset, or "
            "for a box project a directory of images, a box JSONL, COCO or Label Studio "
            "JSON file."
        ),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto, jsonl, csv, parquet, media, conll (ner), coco (boxes), label-studio "
            "or hf (a local Hugging Face dataset; needs the hf extra).",
        ),
    ] = "auto",
    id_field: Annotated[
        str,
        typer.Option("--id-field", help="The field (or column) holding each record's unique id."),
    ] = "id",
    text_field: Annotated[
        str,
        typer.Option(
            "--text-field",
            help="The field holding the text to label (classification projects).",
        ),
    ] = "text",
    label_field: Annotated[
        str,
        typer.Option(
            "--label-field",
            help="The field holding a record's label, if it has one: imported as final.",
        ),
    ] = "label",
    labels_field: Annotated[
        str,
        typer.Option(
            "--labels-field",
            help="The field holding a record's list of labels (multi-label projects).",
        ),
    ] = "labels",
    meta_field: Annotated[
        str,
        typer.Option(
            "--meta-field",
            help="The field holding a record's metadata object (group attributes and such).",
        ),
    ] = "meta",
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the eval draw.")] = None,
    on_existing: Annotated[
        str,
        typer.Option(
            "--on-existing",
            help="A record whose id is already in the project: error (refuse the import), "
            "skip it, or update its item's payload and metadata (never its label).",
        ),
    ] = "error",
    bbox_format: Annotated[
        str | None,
        typer.Option(
            "--bbox-format",
            help="How a box project's hf dataset lays out objects.bbox: xyxy "
            "([x1, y1, x2, y2], the default) or xywh ([x, y, width, height], COCO's; "
            "classes under category or label).",
        ),
    ] = None,
    score: Annotated[
        bool,
        typer.Option(
            "--score/--no-score",
            help="Score items added after a round with its model now (default), or leave "
            "that to the server's job worker (the import queues the job either way).",
        ),
    ] = True,
    db: DbOption = None,
) -> None:
    """Import items (all or nothing); labelled records become final labels.

    Records whose content duplicates an item already in the pool (or an earlier record)
    are skipped and listed on stderr. To re-import a cumulative file, `--on-existing skip`
    leaves the items already imported alone and `--on-existing update` applies their
    changes. Items added after a round wait under every scored item until the latest
    round's model scores them, which this command does before it returns.
    """
    from labelloop.engine import jobs
    from labelloop.engine.ingest import import_items
    from labelloop.engine.rounds import run_score_new
    from labelloop.io.records import FieldNames

    fields = FieldNames(
        id=id_field, text=text_field, label=label_field, labels=labels_field, meta=meta_field
    )
    with using_database(db) as database, stage_progress() as on_progress:
        report = import_items(
            database,
            actor=cli_actor(),
            project=project,
            path=source,
            format=format,
            fields=fields,
            seed=seed,
            on_existing=on_existing,
            on_progress=on_progress,
            bbox_format=bbox_format,
        )
        scored = None
        if score and report.scored_by is not None:
            scored = jobs.run_queued(
                database,
                project_id=report.project_id,
                kind="score_new",
                runners={"score_new": run_score_new},
            )
    existing = (
        ""
        if report.on_existing == "error"
        else f"; {report.n_updated} updated, {report.n_skipped} skipped (already in the project)"
    )
    say(
        f"imported {report.n_imported} of {report.n_records} records into {report.project_name!r}: "
        f"{report.n_labelled} labelled, {report.n_open} open, {report.n_eval} in the eval set"
        + existing
    )
    if report.n_duplicates:
        examples = ", ".join(
            f"{d.external_id!r} (line {d.line}) = {d.duplicate_of!r}" for d in report.duplicates[:5]
        )
        say(
            f"skipped {report.n_duplicates} duplicate(s) of content already imported: {examples}"
            + (" ..." if report.n_duplicates > 5 else "")
        )
    if report.ignored_files:
        say(
            f"ignored {len(report.ignored_files)} file(s) that are not "
            f"media of this project: {', '.join(report.ignored_files[:5])}"
        )
    if report.scored_by is not None:
        if scored is not None and scored.status == "done":
            n_scored = (scored.result or {}).get("n_scored", 0)
            say(f"scored {n_scored} new item(s) with model version {report.scored_by}")
        elif scored is not None:
            say(f"scoring the new items failed ({scored.error}): they wait for the next round")
        else:
            say(f"the new items wait for model version {report.scored_by} (a score_new job)")


@app.command("export")
@reports_errors
def export(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl, csv, parquet, conll (ner), coco (boxes), label-studio, or hf (a "
            "Hugging Face save_to_disk directory, or Parquet when --out ends in .parquet; "
            "hf extra).",
        ),
    ] = "jsonl",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output file, or directory for hf (default: stdout)."),
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Export this dataset version exactly.")
    ] = None,
    labelled_only: Annotated[
        bool, typer.Option("--labelled-only", help="Only items with a final label.")
    ] = False,
    bbox_format: Annotated[
        str | None,
        typer.Option(
            "--bbox-format",
            help="A box project's hf export: objects.bbox as xyxy ([x1, y1, x2, y2] with "
            "label, the default) or xywh ([x, y, width, height] with category, COCO's).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Export items and final labels with their provenance (records only on stdout)."""
    from labelloop.engine.export import export_items

    with using_database(db) as database, stage_progress() as progress:
        progress("exporting", 0, None)
        report = export_items(
            database,
            project=project,
            format=format,
            out=out,
            version=version,
            labelled_only=labelled_only,
            on_progress=lambda done: progress("exporting", done, None),
            bbox_format=bbox_format,
        )
    version_text = f" (dataset version {report.dataset_version})" if version is not None else ""
    say(
        f"exported {report.n_records} records of {report.project_name!r}{version_text} "
        f"to {report.destination}"
    )
