"""Label quality: ``quality`` lists a project's suspect labels, and rules on one;
``annotators`` shows each annotator's agreement and estimated accuracy, and fits them."""

from __future__ import annotations

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
from labelloop.exceptions import ValidationError

__all__ = ["annotators", "quality"]

ProjectArg = Annotated[str, typer.Argument(help="The project's name or id.")]


def _ruling(confirm: int | None, clear: int | None, reviewer: str | None) -> tuple[int, str] | None:
    if confirm is not None and clear is not None:
        raise ValidationError("give --confirm or --clear, not both", field="confirm")
    if confirm is None and clear is None:
        return None
    if not reviewer:
        raise ValidationError("a ruling needs --as REVIEWER (a user who may review)", field="as")
    return (confirm, "confirm") if confirm is not None else (clear, "clear")  # type: ignore[return-value]


@app.command("quality")
@reports_errors
def quality(
    project: ProjectArg,
    limit: Annotated[int, typer.Option(help="List at most this many suspects.")] = 50,
    confirm: Annotated[
        int | None, typer.Option(help="Confirm suspect ID wrong and correct it.")
    ] = None,
    clear: Annotated[int | None, typer.Option(help="Clear suspect ID: its label is right.")] = None,
    label: Annotated[
        str | None, typer.Option(help="With --confirm: the right label (default: the model's).")
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--as", help="The reviewer ruling (a user name).")
    ] = None,
    as_json: JsonLinesOption = False,
    db: DbOption = None,
) -> None:
    """Suspect labels the rounds found, most suspect first, with reviewers' precision at k."""
    from labelloop.engine import quality as quality_engine
    from labelloop.engine.users import get_user

    ruling = _ruling(confirm, clear, reviewer)
    with using_database(db) as database:
        if ruling is not None:
            ruled = quality_engine.resolve_suspect(
                database,
                suspect_id=ruling[0],
                user=get_user(database, reviewer),
                verdict=ruling[1],
                label=label,
                project=project,
            )
            say(f"suspect {ruled.id} ({ruled.item_external_id}) {ruled.status}")
            return
        listing = quality_engine.list_suspects(database, project=project, limit=limit)
    print_listing(
        listing.suspects,
        as_json=as_json,
        record=lambda s: {
            "id": s.id,
            "item": s.item_external_id,
            "given": s.given_label,
            "suggested": s.suggested_label,
            "quality": round(s.quality, 4),
            "round": s.round_number,
        },
        columns=("id", "item", "given", "suggested", "quality", "round"),
        row=lambda s: (
            str(s.id),
            s.item_external_id,
            str(s.given_label),
            str(s.suggested_label),
            f"{s.quality:.3f}",
            str(s.round_number),
        ),
    )
    if not as_json:
        summary = listing.summary
        rates = "  ".join(
            f"{'all' if p.k is None else f'@{p.k}'}: "
            + ("-" if p.precision is None else f"{p.precision:.2f} ({p.confirmed}/{p.ruled})")
            for p in summary.precision_at
        )
        say(
            f"{summary.open} open, {summary.confirmed} confirmed, {summary.cleared} cleared; "
            f"reviewers' precision {rates}"
        )


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


@app.command("annotators")
@reports_errors
def annotators(
    project: ProjectArg,
    fit: Annotated[
        bool,
        typer.Option(
            "--fit",
            help="Fit the annotators by Dawid-Skene now and settle the items with several "
            "annotators again by the project's consensus setting.",
        ),
    ] = False,
    as_json: JsonLinesOption = False,
    db: DbOption = None,
) -> None:
    """Each annotator's labels, kappa with the others, agreement with reviewers and
    accuracy estimated by Dawid-Skene."""
    from labelloop.engine import agreement, consensus

    with using_database(db) as database:
        if fit:
            info = consensus.fit_annotators(database, project=project, actor=cli_actor())
            if info.fitted:
                say(f"fitted on {info.n_items} items with several annotators; "
                    f"{info.changed} items changed under {info.method}")  # fmt: skip
            else:
                say("nothing to fit: fewer than two items with two annotators")
        report = agreement.agreement_report(database, project)
    boxed = "box_f1" in report
    # A box project's agreement is IoU-matched box F1 and an entity project's span F1:
    # kappa on whole box lists or span sets says little.
    measure, key, column = (
        ("box_f1", "mean_box_f1", "box F1")
        if boxed
        else ("span_f1", "mean_span_f1", "span F1")
        if report.get("measure") == "span_f1"
        else ("kappa", "mean_kappa", "kappa")
    )
    print_listing(
        report["annotators"],
        as_json=as_json,
        record=lambda a: {
            "name": a["name"],
            "annotations": a["n_annotations"],
            measure: a[key],
            "review_agreement": a["review_agreement"],
            "estimated_accuracy": a["estimated_accuracy"],
        },
        columns=("annotator", "annotations", column, "agreement with reviewers",
                 "estimated accuracy"),
        row=lambda a: (
            a["name"],
            str(a["n_annotations"]),
            "-" if a[key] is None else f"{a[key]:.2f}",
            _share(a["review_agreement"]),
            _share(a["estimated_accuracy"]),
        ),
    )  # fmt: skip
    if boxed and not as_json:
        f1 = report["box_f1"]
        say(f"box F1 between annotators (IoU >= {report['iou_threshold']}, same label): "
            + ("-" if f1 is None else f"{f1:.2f}"))  # fmt: skip
    if not as_json:
        say(f"consensus: {report['consensus']}; {report['n_items_shared']} items with several "
            "annotators")  # fmt: skip
        if report.get("span_f1") is not None:
            say(f"span F1 between annotators: {report['span_f1']:.3f}")
