"""A round of a box project: no detector is bundled, so it trains nothing and ranks the
pool from the boxes client detectors pushed.

Rules
-----
1. The round snapshots the labels as a dataset version (what an export of that version
   holds), as every round does.
2. Each open label task outside the evaluation set whose image has a pushed prediction
   is scored again from its latest prediction's boxes under the current settings
   (``box_score``, ``box_topk``, ``box_uncertainty``, ``box_unsure_below``:
   `labelloop.engine.core.priority` rule 8), so a changed setting takes effect; the
   ``batch_size`` most informative go on top in order, the rest to ``u / (1 + u)``.
   Images no detector has seen keep their place; stream mode's asked items too.
3. Its metrics say so in words (``note``), with ``trained: false``, the images ranked,
   the boxes they hold and how many are unsure, and the boxes labelled so far.
4. A box project with no pushed predictions still gets its round (the dataset version);
   the note says to push the detector's boxes.
5. The round's row, audit event and webhooks are written by
   `labelloop.engine.rounds.record.record_round`, as for every round.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import bindparam, select, update

from labelloop.engine.core import priority
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.core.project import resolve_project
from labelloop.engine.rounds.inputs import annotation_ids, read_labelled, snapshot_project
from labelloop.engine.rounds.record import RoundInfo, record_round
from labelloop.engine.rounds.versions import add_dataset_version
from labelloop.store.db import Database
from labelloop.store.tables import (
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    TaskRow,
    utcnow,
)

__all__ = ["BOX_ROUND_STRATEGY", "box_round", "labelled_boxes"]

BOX_ROUND_STRATEGY = "pushed-boxes"


def labelled_boxes(labels: list[Any]) -> int:
    """How many boxes the final labels hold (an image labelled empty counts 0)."""
    return sum(len(label) for label in labels if isinstance(label, list))


def box_round(db: Database, *, actor: str, project: int | str) -> RoundInfo:
    """Rules 1-4: one round of a box project."""
    read_at = utcnow()
    with db.transaction() as session:
        row = resolve_project(session, project)
        session.execute(select(ProjectRow.id).where(ProjectRow.id == row.id).with_for_update())
        proj = snapshot_project(row)
        train_set = read_labelled(session, proj.id, is_eval=False)
        annotations = annotation_ids(session, proj.id, set(train_set.item_ids))
        dataset = add_dataset_version(
            session, proj, actor=actor, train_set=train_set, annotations=annotations
        )
        open_tasks = dict(
            session.execute(
                select(TaskRow.item_id, TaskRow.id).where(
                    TaskRow.project_id == proj.id,
                    TaskRow.queue == LABEL_QUEUE,
                    TaskRow.status == "open",
                    TaskRow.is_eval.is_(False),
                    TaskRow.priority < priority.ASKED_BONUS,
                )
            ).all()
        )
        latest: dict[int, tuple[list[dict[str, Any]], str]] = {}
        query = (
            select(PredictionRow.item_id, PredictionRow.structure, ModelVersionRow.name)
            .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
            .where(PredictionRow.project_id == proj.id, PredictionRow.structure.is_not(None))
            .order_by(ModelVersionRow.version, PredictionRow.id)
        )
        for item_id, structure, name in session.execute(query):
            if item_id in open_tasks:
                latest[item_id] = (structure, name or "client")
        ranked = sorted(latest)
        values = np.zeros(len(ranked))
        n_boxes = n_unsure = 0
        for i, item_id in enumerate(ranked):
            boxes = latest[item_id][0]
            values[i], unsure = priority.box_informativeness(
                boxes, proj.settings, strategy=proj.strategy
            )
            n_boxes += len(boxes)
            n_unsure += unsure
        k = min(int(proj.settings["batch_size"]), len(ranked))
        order = np.argsort(-values, kind="stable")[:k]
        priorities = priority.scored_priorities(values)
        priorities[order] = priority.batch_priorities(k)
        picked = {int(j) for j in order}
        models = sorted({latest[i][1] for i in ranked})
        reason = f"{', '.join(models)[:200]}: its boxes, picked for the next batch"
        now = utcnow()
        if ranked:
            session.execute(
                update(TaskRow.__table__)
                .where(TaskRow.__table__.c.id == bindparam("b_id"))
                .values(
                    priority=bindparam("b_priority"),
                    reason=bindparam("b_reason"),
                    updated_at=now,
                ),
                [
                    {
                        "b_id": open_tasks[item_id],
                        "b_priority": float(priorities[i]),
                        "b_reason": reason if i in picked else None,
                    }
                    for i, item_id in enumerate(ranked)
                ],
            )
        batch_ids = [ranked[int(j)] for j in order]
        if ranked:
            note = (
                f"box projects do not train (no detector is bundled): ranked {len(ranked)} "
                f"open images by the boxes {', '.join(models)} pushed ({n_boxes} boxes, "
                f"{n_unsure} unsure) with box_score={proj.settings['box_score']}"
            )
        else:
            note = (
                "box projects do not train (no detector is bundled) and no detector has "
                "pushed boxes for the open images: push your detector's boxes "
                "(labelloop push, POST /projects/{id}/predictions) to rank them"
            )
        metrics = {
            "trained": False,
            "note": note,
            "n_ranked": len(ranked),
            "n_pushed_boxes": n_boxes,
            "n_unsure_boxes": n_unsure,
            "n_boxes_labelled": labelled_boxes(train_set.labels),
            "pool_size": len(open_tasks),
        }
        return record_round(
            session,
            proj.id,
            actor=actor,
            dataset=(dataset.id, dataset.version),
            model=None,
            strategy=BOX_ROUND_STRATEGY,
            batch_ids=batch_ids,
            metrics=metrics,
            n_labels=len(train_set.item_ids),
            n_reprioritised=len(ranked),
            read_at=read_at,
        )
