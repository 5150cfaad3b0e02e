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
6. Under the project's ``consensus`` setting ``dawid_skene``, a complete item with votes
   from two or more annotators is decided by the newest Dawid-Skene fit
   (`labelloop.engine.core.consensus`); `refit_consensus` makes a new fit from all the
   project's votes, stores it, and settles again every item with two or more voters
   that is ``annotated`` or ``in_review`` (an accepted item keeps its reviewer's label),
   by the method in force.
7. In a box project (task type ``boxes``), a complete item with votes from two or more
   annotators (each annotator's newest vote) is decided by fusing their boxes
   (`labelloop.boxes.fuse_boxes`) under the settings ``box_consensus_iou``,
   ``box_consensus_share`` and ``box_fuse``: a decided fusion is the winner (its fused
   boxes), an undecided one goes to review with the reason ``boxes_disagree``
   (`box_disagreement` names the boxes). For the ``annotators_disagree`` policy the
   annotators agree when every box was drawn by every one of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from labelloop.engine.core.consensus import (
    ConsensusFit,
    consensus_winner,
    fit_consensus,
    latest_fit,
)
from labelloop.engine.core.labels import (
    AUTO_SOURCE,
    LabelDecision,
    decide_label,
    label_key,
    model_label,
    review_reason,
    votes_that_count,
)
from labelloop.engine.core.settings import effective_settings, review_policies
from labelloop.store.audit import append_event
from labelloop.store.prepared import Prepared
from labelloop.store.tables import (
    AnnotationRow,
    ConsensusFitRow,
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
    "box_disagreement",
    "imported_decision",
    "item_columns",
    "latest_prediction",
    "refit_consensus",
    "settle_item",
    "standing_label",
]

# Sources whose annotations vote for the final label (reviewer corrections do not vote).
VOTING_SOURCES = ("human", "model", "import")
# Statuses whose final label stands (rule 5); a provisional label under review does not.
LABELLED_STATUSES = ("annotated", "accepted")

# Columns, not rows: the labels and sources are all the rule reads. Built once.
_VOTES = (
    select(AnnotationRow.label, AnnotationRow.source, AnnotationRow.actor)
    .where(
        AnnotationRow.item_id == bindparam("item_id", type_=Integer),
        AnnotationRow.status == "active",
        AnnotationRow.source.in_(VOTING_SOURCES),
    )
    .order_by(AnnotationRow.id)
)
# The writes every label makes, run prepared on the session's connection
# (`labelloop.store.prepared`): the ORM's flush of them cost more CPU than the database
# takes to run them, on the hot path of every submit.
_ITEMS = ItemRow.__table__
_SET_ITEM = Prepared(_ITEMS.update().where(_ITEMS.c.id == bindparam("item_id", type_=Integer)))
_NEW_CHANGE = Prepared(LabelChangeRow.__table__.insert())


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


def _box_fusion(project: ProjectRow, rows: Any) -> Any:
    """Rule 7: the fusion of a box item's annotators' newest boxes, or None (one voter)."""
    from labelloop.boxes import fuse_boxes, needed_annotators

    newest: dict[str, Any] = {}
    for row in rows:  # oldest first: an annotator's newest vote stays
        if row.source != AUTO_SOURCE:
            newest.pop(row.actor, None)
            newest[row.actor] = row.label
    if len(newest) < 2:
        return None
    settings = effective_settings(project)
    return fuse_boxes(
        list(newest.items()),
        threshold=float(settings["box_consensus_iou"]),
        needed=needed_annotators(len(newest), float(settings["box_consensus_share"])),
        method=str(settings["box_fuse"]),
    )


def box_disagreement(session: Session, project: ProjectRow, item_id: int) -> list[str]:
    """Rule 7: the boxes a box item's annotators do not agree on, each named; [] if none."""
    if project.task_type != "boxes":
        return []
    rows = session.execute(_VOTES, {"item_id": item_id}).all()
    fusion = _box_fusion(project, rows)
    if fusion is None:
        return []
    return [box.describe() for box in fusion.unmatched]


def _policy_reason(
    session: Session, project: ProjectRow, item: ItemRow, labels: list[Any], winner: Any
) -> str | None:
    settings = effective_settings(project)
    policies = review_policies(settings)
    if not policies:
        return None
    prediction = latest_prediction(session, item.id)
    if prediction is None:
        predicted = None
    elif project.task_type == "boxes":
        predicted = _predicted_boxes(prediction, winner, float(settings["box_unsure_below"]))
    else:
        predicted = model_label(prediction.probabilities, multi_label=project.multi_label)
    return review_reason(
        policies,
        labels=labels,
        winner=winner,
        percent=float(settings.get("review_percent") or 0),
        seed=f"{project.id}:{item.id}",
        predicted=predicted,
    )


def _predicted_boxes(prediction: PredictionRow, winner: Any, sure_from: float) -> Any:
    """A box project's model label for ``model_disagrees``: the detector's boxes scored at
    least ``box_unsure_below``. It agrees with the winner when every box of either is
    IoU-matched to one of the other (box F1 of 1; `labelloop.boxes.box_f1`), so a box a
    pixel off is no disagreement; then the winner itself is answered."""
    from labelloop.boxes import box_f1

    if prediction.structure is None:
        return None
    sure = [
        {"bbox": b["bbox"], "label": b["label"]}
        for b in prediction.structure
        if float(b.get("score", 0.0)) >= sure_from
    ]
    agree = isinstance(winner, list) and box_f1(sure, winner) == 1.0
    return winner if agree else sure


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
    consensus = None
    undecided = "tie"
    if complete and not auto_only and project.task_type == "boxes":
        fusion = _box_fusion(project, rows)
        if fusion is not None:
            consensus = (fusion.boxes, fusion.decided)
            undecided = "boxes_disagree"
            if fusion.unanimous:
                labels = [fusion.boxes]  # rule 7: jitter is no disagreement for the policies
    elif complete and not auto_only:
        consensus = _weighed_winner(session, project, rows)
    draft = decide_label(
        labels, complete=complete, source=source, consensus=consensus, undecided=undecided
    )
    if draft.status != "annotated" or source in ("import", AUTO_SOURCE):
        return draft
    due = _policy_reason(session, project, item, labels, draft.final_label)
    if not due:
        return draft
    return decide_label(
        labels, complete=complete, due=due, source=source, consensus=consensus, undecided=undecided
    )


def _weighed_winner(session: Session, project: ProjectRow, rows: Any) -> tuple[Any, bool] | None:
    """Rule 6: the Dawid-Skene winner of an item's votes, or None for the majority."""
    people = [(row.actor, row.label) for row in rows if row.source != AUTO_SOURCE]
    if len({actor for actor, _ in people}) < 2:
        return None
    if effective_settings(project).get("consensus") != "dawid_skene":
        return None
    fit = session.info.get(("consensus_fit", project.id))
    if fit is None:
        fit = latest_fit(session, project.id)
        if fit is None:
            return None
        session.info[("consensus_fit", project.id)] = fit
    return consensus_winner(fit, people)


def refit_consensus(
    session: Session, project: ProjectRow, *, actor: str
) -> tuple[ConsensusFit | None, int]:
    """Rule 6: fit Dawid-Skene on the project's votes, store it, and settle again.

    The fit is audited as ``consensus.fitted`` (by ``actor``) in the caller's transaction.

    Returns
    -------
    fit : ConsensusFit or None
        None when there is nothing to fit (fewer than two items with two annotators).
    changed : int
        Items whose final label or status the new fit changed.
    """
    rows = session.execute(
        select(AnnotationRow.item_id, AnnotationRow.actor, AnnotationRow.label)
        .where(
            AnnotationRow.project_id == project.id,
            AnnotationRow.status == "active",
            AnnotationRow.source.in_(("human", "import")),
        )
        .order_by(AnnotationRow.id)
    ).all()
    votes: dict[int, dict[str, str]] = {}
    for row in rows:  # in id order: an annotator's latest vote on an item counts
        votes.setdefault(row.item_id, {})[row.actor] = label_key(row.label)
    fit = fit_consensus(votes)
    if fit is None:
        return None, 0
    session.add(
        ConsensusFitRow(
            project_id=project.id,
            n_items=fit.n_items,
            classes=fit.classes,
            prior=fit.prior,
            annotators=fit.annotators,
        )
    )
    session.info[("consensus_fit", project.id)] = fit
    shared = [item_id for item_id, item_votes in votes.items() if len(item_votes) >= 2]
    changed = 0
    for start in range(0, len(shared), 500):
        chunk = shared[start : start + 500]
        items = (
            session.execute(
                select(ItemRow).where(
                    ItemRow.id.in_(chunk), ItemRow.status.in_(("annotated", "in_review"))
                )
            )
            .scalars()
            .all()
        )
        tasks = {
            task.item_id: task
            for task in session.execute(
                select(TaskRow).where(TaskRow.item_id.in_(chunk), TaskRow.queue == "label")
            ).scalars()
        }
        for item in items:
            before = (item.status, label_key(item.final_label))
            decision = settle_item(session, project=project, item=item, task=tasks.get(item.id))
            changed += before != (decision.status, label_key(decision.final_label))
    append_event(
        session,
        project_id=project.id,
        actor=actor,
        action="consensus.fitted",
        target=f"project:{project.id}",
        after={
            "method": effective_settings(project).get("consensus"),
            "n_items": fit.n_items,
            "changed": changed,
            "accuracy": fit.accuracy(),
        },
    )
    return fit, changed


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
    conn = session.connection()
    if (
        decision.status != item.status
        or decision.final_label != item.final_label
        or decision.source != item.label_source
    ):
        columns = item_columns(decision, utcnow())
        _SET_ITEM.run(conn, {"item_id": item.id, **columns})
        # The item object learns the values as stored, so no flush writes them again.
        for column, value in columns.items():
            set_committed_value(item, column, value)
    now_standing = standing_label(decision.status, decision.final_label)
    if now_standing != standing:
        _NEW_CHANGE.run(
            conn,
            {"project_id": project.id, "item_id": item.id, "label": now_standing,
             "created_at": utcnow()},
        )  # fmt: skip
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
