"""The only writer of an item's final label: every path that changes one comes here.

`labelloop.engine.core.labels` holds the rule as a pure function; this module reads
what the rule needs from the store and writes what it decides. Annotating, undoing,
reviewing, a new overlap and importing labelled records all go through it.

Rules
-----
1. Votes are the item's ``active`` annotations from `VOTING_SOURCES` (``human``,
   ``model``, ``import``), oldest first; a reviewer's correction is not a vote. An
   auto-label (``model``) counts only while no other vote does, and then needs no
   overlap (the rule's rule 0); the review policies do not apply to it (spot checks
   measure auto-labels instead).
2. `settle_item` re-derives the decision from the votes, the item's label task (its
   ``needed`` count says whether the overlap is met), a standing review (the latest
   accept or correction of an ``accepted`` item) or the verdict being given now, and
   the project's review policies; then `item_columns` writes it.
3. `item_columns` is the one mapping from a decision to the item's columns
   (``status``, ``final_label``, ``label_source``, ``labelled_at``); the importer's bulk
   rows take their values from it too.
4. A review task is open exactly while its item is ``in_review``: `settle_item` opens
   one when the decision puts the item in review and cancels open ones when it leaves.
5. An item's *standing* label (`standing_label`) is its final label while its status is
   one of `LABELLED_STATUSES` (``annotated``, ``accepted``), else none: what exports,
   training and the label feed use. Whenever a decision changes it, `settle_item` adds a
   ``label_changes`` row (the new label, or NULL for a withdrawal) in the same
   transaction; the importer's bulk rows add theirs with `item_columns`' values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from labelloop.engine.core.labels import (
    AUTO_SOURCE,
    LabelDecision,
    decide_label,
    model_label,
    review_reason,
    votes_that_count,
)
from labelloop.engine.core.settings import effective_settings, review_policies
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    LabelChangeRow,
    PredictionRow,
    ProjectRow,
    ReviewRow,
    ReviewTaskRow,
    TaskRow,
    utcnow,
)

__all__ = [
    "LABELLED_STATUSES",
    "VOTING_SOURCES",
    "imported_decision",
    "item_columns",
    "latest_prediction",
    "settle_item",
    "standing_label",
]

# Sources whose annotations vote for the final label (reviewer corrections do not vote).
VOTING_SOURCES = ("human", "model", "import")
# Statuses whose final label stands (rule 5); a provisional label under review does not.
LABELLED_STATUSES = ("annotated", "accepted")

# Columns, not rows: the labels and sources are all the rule reads. Built once.
_VOTES = (
    select(AnnotationRow.label, AnnotationRow.source)
    .where(
        AnnotationRow.item_id == bindparam("item_id", type_=Integer),
        AnnotationRow.status == "active",
        AnnotationRow.source.in_(VOTING_SOURCES),
    )
    .order_by(AnnotationRow.id)
)


def item_columns(decision: LabelDecision, now: dt.datetime) -> dict[str, Any]:
    """Rule 3: the item columns a decision sets, ``labelled_at`` being ``now`` if labelled."""
    return {
        "status": decision.status,
        "final_label": decision.final_label,
        "label_source": decision.source,
        "labelled_at": now if decision.final_label is not None else None,
    }


def standing_label(status: str, final_label: Any) -> Any:
    """Rule 5: the label an item with this status and final label holds, or None."""
    return final_label if status in LABELLED_STATUSES else None


def imported_decision(label: Any) -> LabelDecision:
    """The decision for a record imported with its label: one complete ``import`` vote."""
    return decide_label([label], complete=True, source="import")


def latest_prediction(session: Session, item_id: int) -> PredictionRow | None:
    """The newest prediction of any model version for an item."""
    return session.execute(
        select(PredictionRow)
        .where(PredictionRow.item_id == item_id)
        .order_by(PredictionRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _standing_review(session: Session, item_id: int) -> tuple[str, Any] | None:
    """The latest reviewer verdict on the item, when it is an accept or a correction."""
    review = session.execute(
        select(ReviewRow).where(ReviewRow.item_id == item_id).order_by(ReviewRow.id.desc()).limit(1)
    ).scalar_one_or_none()
    if review is None or review.verdict == "reject":
        return None
    return review.verdict, review.corrected_label


def _policy_reason(
    session: Session, project: ProjectRow, item: ItemRow, labels: list[Any], winner: Any
) -> str | None:
    settings = effective_settings(project)
    policies = review_policies(settings)
    if not policies:
        return None
    prediction = latest_prediction(session, item.id)
    return review_reason(
        policies,
        labels=labels,
        winner=winner,
        percent=float(settings.get("review_percent") or 0),
        seed=f"{project.id}:{item.id}",
        predicted=None
        if prediction is None
        else model_label(prediction.probabilities, multi_label=project.multi_label),
    )


def _decide(
    session: Session,
    project: ProjectRow,
    item: ItemRow,
    task: TaskRow | None,
    verdict: tuple[str, Any] | None,
) -> LabelDecision:
    rows = session.execute(_VOTES, {"item_id": item.id}).all()
    labels, source, auto_only = votes_that_count([(row.label, row.source) for row in rows])
    # Only a review's accept or correction makes an item accepted, and nothing else
    # changes it afterwards: an item in any other status has no standing review.
    if verdict is None and item.status == "accepted":
        verdict = _standing_review(session, item.id)
    if verdict is not None:
        return decide_label(
            labels, complete=True, verdict=verdict[0], reviewed_label=verdict[1], source=source
        )
    complete = task is None or task.needed <= 0 or auto_only
    draft = decide_label(labels, complete=complete, source=source)
    if draft.status != "annotated" or source in ("import", AUTO_SOURCE):
        return draft
    due = _policy_reason(session, project, item, labels, draft.final_label)
    return decide_label(labels, complete=complete, due=due, source=source) if due else draft


def settle_item(
    session: Session,
    *,
    project: ProjectRow,
    item: ItemRow,
    task: TaskRow | None,
    verdict: tuple[str, Any] | None = None,
) -> LabelDecision:
    """Re-derive an item's final label and status, and write them (rules 1 to 5).

    Parameters
    ----------
    session : Session
        The caller's transaction; nothing is committed here.
    project, item : ProjectRow, ItemRow
    task : TaskRow or None
        The item's label task (None: the item has none, so its votes are complete).
    verdict : (str, label), optional
        A reviewer's ``accept`` or ``correct`` being given now, with the label accepted
        or given; a reject is not a verdict here (it rejects the votes and reopens the
        task before settling).

    Returns
    -------
    LabelDecision
    """
    before = item.status
    standing = standing_label(item.status, item.final_label)
    decision = _decide(session, project, item, task, verdict)
    # The source too: a person's label equal to the auto-label before it makes it theirs.
    if (
        decision.status != item.status
        or decision.final_label != item.final_label
        or decision.source != item.label_source
    ):
        for column, value in item_columns(decision, utcnow()).items():
            setattr(item, column, value)
    now_standing = standing_label(decision.status, decision.final_label)
    if now_standing != standing:
        session.add(LabelChangeRow(project_id=project.id, item_id=item.id, label=now_standing))
    if before != "in_review" and decision.status != "in_review":
        # A review task is open only while its item is in review (rule 4), so there is
        # none to look for.
        session.flush()
        return decision
    open_reviews = (
        session.execute(
            select(ReviewTaskRow).where(
                ReviewTaskRow.item_id == item.id, ReviewTaskRow.status == "open"
            )
        )
        .scalars()
        .all()
    )
    if decision.status == "in_review":
        if not open_reviews:
            session.add(
                ReviewTaskRow(project_id=project.id, item_id=item.id, reason=decision.review_reason)
            )
    else:
        for review_task in open_reviews:
            review_task.status = "cancelled"
    session.flush()
    return decision
