"""The round's re-label step: another annotation where it is worth more than a new item.

Rules
-----
1. Under the ``relabel`` setting ``activelab``, after a round with a fitted model on a
   single-label project, the training set's items with human votes (not ``accepted``:
   a reviewer's label is settled) and the round's picked batch are scored by
   `labelloop.quality.relabel_or_new` (cleanlab's ActiveLab): of the batch-size lowest
   scores, the labelled items get one more annotation and the new items keep their
   place in the batch.
2. Only items someone has not labelled yet are asked again (the queue never gives a
   person an item twice): items with as many voters as there are people (the project's
   human annotators and the active users who may label) are skipped.
3. An item asked again keeps its final label until the new vote, which settles it by
   the final-label rule with all its votes; its label task opens with one more needed,
   at the top of the batch's range (priority 3: before the batch, whose tasks are
   newer or lower), with a reason in words; the round's metrics get ``relabel`` (items
   asked again, new items kept), all in one transaction with a ``tasks.relabel`` event.
4. The labelled items' probabilities are the model's on its own training rows: the
   round fits one model, and ActiveLab weighs the model against the annotators by how
   well it agrees with them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from labelloop.engine.core.identity import LABELLING_ROLES
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.rounds.inputs import ProjectSnapshot
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    PredictionRow,
    RoundRow,
    TaskRow,
    UserRow,
    utcnow,
)

if TYPE_CHECKING:  # scikit-learn loads on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = ["RELABEL_PRIORITY", "ask_relabels"]

RELABEL_PRIORITY = 3.0


def _votes(session: Any, project_id: int, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    votes: dict[int, dict[str, Any]] = defaultdict(dict)
    for start in range(0, len(item_ids), 1000):
        chunk = list(item_ids[start : start + 1000])
        rows = session.execute(
            select(AnnotationRow.item_id, AnnotationRow.actor, AnnotationRow.label)
            .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
            .where(
                AnnotationRow.item_id.in_(chunk),
                AnnotationRow.status == "active",
                AnnotationRow.source == "human",
                ItemRow.status != "accepted",
            )
            .order_by(AnnotationRow.id)
        ).all()
        for row in rows:
            votes[row.item_id][row.actor] = row.label
    return votes


def ask_relabels(
    db: Database,
    project: ProjectSnapshot,
    model: ProjectModel,
    X_lab: Any,
    train_ids: Sequence[int],
    *,
    batch_ids: Sequence[int],
    model_version_id: int,
    round_number: int,
    actor: str,
) -> dict[str, int] | None:
    """Rules 1 to 4: ask for another annotation on the labelled items worth it.

    Returns
    -------
    dict or None
        ``{"asked": items asked again, "new": batch items kept}``; None when the rule is
        off or cannot run (no human votes, no model).
    """
    from labelloop.quality import relabel_or_new

    if project.settings.get("relabel") != "activelab" or project.multi_label:
        return None
    index = {name: k for k, name in enumerate(project.labels)}
    with db.read() as session:
        votes = _votes(session, project.id, train_ids)
        people = set(
            session.execute(
                select(AnnotationRow.actor)
                .distinct()
                .where(AnnotationRow.project_id == project.id, AnnotationRow.source == "human")
            ).scalars()
        ) | set(
            session.execute(
                select(UserRow.name).where(
                    UserRow.is_active.is_(True), UserRow.role.in_(LABELLING_ROLES)
                )
            ).scalars()
        )
        n_people = len(people)
        batch = session.execute(
            select(PredictionRow.item_id, PredictionRow.probabilities).where(
                PredictionRow.model_version_id == model_version_id,
                PredictionRow.item_id.in_(list(batch_ids)),
            )
        ).all()
    rows = [
        r for r, item_id in enumerate(train_ids)
        if votes.get(item_id) and all(label in index for label in votes[item_id].values())
    ]  # fmt: skip
    if not rows:
        return None
    names = sorted({name for r in rows for name in votes[train_ids[r]]})
    column = {name: j for j, name in enumerate(names)}
    annotations = np.full((len(rows), len(names)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        for name, label in votes[train_ids[r]].items():
            annotations[i, column[name]] = index[label]
    pred_probs = model.predict_proba(X_lab[rows])
    new_ids = [row.item_id for row in batch]
    unlabelled = np.array(
        [[float(row.probabilities.get(name, 0.0)) for name in project.labels] for row in batch]
    ).reshape(len(batch), len(project.labels))
    if unlabelled.size:
        unlabelled /= np.maximum(unlabelled.sum(axis=1, keepdims=True), 1e-12)
    k = max(len(batch_ids), 1)
    picks = relabel_or_new(annotations, pred_probs, unlabelled, k=k)
    asked = [
        (int(train_ids[rows[i]]), float(picks.scores_labelled[i]))
        for i in picks.relabel
        if len(votes[train_ids[rows[i]]]) < n_people
    ]
    cutoff = float(np.sort(picks.scores_unlabelled)[0]) if picks.scores_unlabelled.size else None
    with db.transaction() as session:
        now = utcnow()
        for item_id, score in asked:
            task = session.execute(
                select(TaskRow)
                .where(TaskRow.item_id == item_id, TaskRow.queue == LABEL_QUEUE)
                .with_for_update()
            ).scalar_one_or_none()
            if task is None:
                continue
            task.needed = (task.needed if task.status == "open" else 0) + 1
            task.status = "open"
            task.priority = RELABEL_PRIORITY
            best_new = "" if cutoff is None else f", the best new item's {cutoff:.3f}"
            task.reason = (
                f"another annotation: its consensus is weak (ActiveLab score {score:.3f}{best_new})"
            )
            task.updated_at = now
        summary = {"asked": len(asked), "new": len(picks.new), "of": len(new_ids)}
        round_row = session.execute(
            select(RoundRow).where(
                RoundRow.project_id == project.id, RoundRow.number == round_number
            )
        ).scalar_one_or_none()
        if round_row is not None:
            round_row.metrics = {**(round_row.metrics or {}), "relabel": summary}
        if asked:
            append_event(
                session,
                project_id=project.id,
                actor=actor,
                action="tasks.relabel",
                target=f"project:{project.id}",
                after={"round": round_number, "items": [item_id for item_id, _ in asked]},
            )
    return summary
