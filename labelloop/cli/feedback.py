"""Reviewers' feedback to an annotator: ``feedback`` lists a user's rejected and corrected
labels with the reviewer's note and label, as the web UI's "My feedback" page does."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from labelloop.cli.common import (
    DbOption,
    JsonLinesOption,
    app,
    print_listing,
    reports_errors,
    say,
    using_database,
)

__all__ = ["feedback"]


def _label_text(label: Any) -> str:
    if label is None:
        return "-"
    if isinstance(label, list):
        return ", ".join(map(str, label))
    return str(label)


@app.command("feedback")
@reports_errors
def feedback(
    project: Annotated[str, typer.Argument(help="The project's name or id.")],
    user: Annotated[str, typer.Option("--user", help="Whose labels (a user name).")],
    limit: Annotated[int, typer.Option(help="List at most this many, newest first.")] = 50,
    as_json: JsonLinesOption = False,
    db: DbOption = None,
) -> None:
    """A user's labels a reviewer rejected or corrected, newest first: the item, their
    label, the verdict, the reviewer's label and note (nothing is marked read)."""
    from labelloop.engine import feedback as feedback_engine
    from labelloop.engine.users import get_user

    with using_database(db) as database:
        page = feedback_engine.my_feedback(
            database, project=project, user=get_user(database, user), limit=limit
        )
    print_listing(
        page.entries,
        as_json=as_json,
        record=lambda e: {
            "review": e.review_id,
            "item": e.item.external_id,
            "your_label": e.your_label,
            "verdict": e.verdict,
            "reviewer_label": e.reviewer_label,
            "note": e.note,
            "reviewer": e.reviewer,
            "reviewed_at": e.reviewed_at.isoformat(),
            "unread": e.unread,
        },
        columns=("item", "your label", "verdict", "reviewer's label", "note", "reviewer", "when"),
        row=lambda e: (
            e.item.external_id,
            _label_text(e.your_label),
            "rejected" if e.verdict == "reject" else "corrected",
            _label_text(e.reviewer_label),
            e.note or "",
            e.reviewer or "-",
            e.reviewed_at.strftime("%Y-%m-%d %H:%M"),
        ),
    )
    if not as_json:
        say(f"{user}: {page.total} labels rejected or corrected, {page.unread} unread")
