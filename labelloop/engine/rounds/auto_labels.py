"""Auto-labels in a round: calibrate on the evaluation set, label what clears the threshold.

Rules
-----
1. Only a fitted round of a single-label project with the ``auto_label`` setting on, not
   paused (`labelloop.engine.core.auto_labels`), auto-labels. The spot checks are
   measured first: a pause they call for takes effect in this round.
2. Calibration reads the evaluation set only: a random sample labelled by people (final
   labels from ``human``, ``review`` or ``import``, never an auto-label), never the
   items a strategy picked, which are biased toward the uncertain. The probabilities are
   this round's model's predictions of those items, as `scoring` stored them.
3. The threshold is `labelloop.automation.calibrate` at the project's
   ``auto_label_precision`` and ``auto_label_risk``; with ``auto_label_per_class`` each
   class gets its own (`calibrate_class_thresholds`), all holding together. When none
   can be certified nothing is auto-labelled, and the round's metrics say how many more
   evaluation labels would allow it (``labels_needed``).
4. A pool item is auto-labelled when its top-class probability under this round's model
   is at or above its class's threshold, it is still ``open`` and it has no active
   annotation: an auto-label never replaces a human label, and one given while the
   round ran wins (the items are locked and re-read in the write).
5. An auto-label is a ``model`` annotation (actor ``model:v<version>``) with an
   `AutoLabelRow` carrying the model version, the round, the item's confidence, the
   threshold and the bound; the item's final label goes through
   `labelloop.engine.core.final_label.settle_item`, and its label task is closed.
6. A random share of them (``auto_label_spot_check``; the draw seeded by project, round
   and item, so a re-run decides the same) keep their task open as an ordinary task of
   the queue, at `SPOT_CHECK_PRIORITY`, with a reason that does not say the item was
   auto-labelled: people label it as any other, and their label wins.
7. Writes go in paced transactions of at most `WRITE_ROWS` items, each with one
   ``auto_label.created`` audit event naming its items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.auto_labels import (
    SPOT_CHECK_PRIORITY,
    auto_labelling_on,
    check_spot_checks,
    open_pause,
    write_auto_label,
)
from labelloop.engine.core.final_label import LABELLED_STATUSES
from labelloop.engine.core.labels import AUTO_SOURCE
from labelloop.engine.rounds.inputs import ProjectSnapshot
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    PredictionRow,
    ProjectRow,
    RoundRow,
    TaskRow,
)
from labelloop.store.writes import WritePacer

__all__ = [
    "SPOT_CHECK_PRIORITY",
    "WRITE_ROWS",
    "AutoLabelPlan",
    "plan_auto_labels",
    "pool_candidates",
    "write_auto_labels",
]

WRITE_ROWS = 200
_PAGE = 5_000


@dataclass
class AutoLabelPlan:
    """What a round will auto-label: the thresholds per class, and the round's metrics."""

    metrics: dict[str, Any]
    thresholds: list[float | None] = field(default_factory=list)
    bounds: list[float | None] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(t is not None for t in self.thresholds)


def _calibration_set(
    db: Database, project: ProjectSnapshot, model_version_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 2: the evaluation set's probabilities and true column indices."""
    columns = {name: i for i, name in enumerate(project.labels)}
    with db.read() as session:
        rows = session.execute(
            select(PredictionRow.probabilities, ItemRow.final_label)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .where(
                PredictionRow.model_version_id == model_version_id,
                ItemRow.is_eval.is_(True),
                ItemRow.status.in_(LABELLED_STATUSES),
                ItemRow.label_source != AUTO_SOURCE,
            )
            .order_by(ItemRow.id)
        ).all()
    kept = [(p, columns[label]) for p, label in rows if isinstance(label, str) and label in columns]
    proba = np.array(
        [[float((p or {}).get(name, 0.0)) for name in project.labels] for p, _ in kept]
    ).reshape(len(kept), len(project.labels))
    if len(kept):
        proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)  # rounding drift
    return proba, np.array([c for _, c in kept], dtype=np.int64)


def plan_auto_labels(
    db: Database, project: ProjectSnapshot, model_version_id: int | None, *, actor: str
) -> AutoLabelPlan | None:
    """Rules 1-3: measure the spot checks, then calibrate; None when auto-labelling is off."""
    from labelloop.automation import calibrate, calibrate_per_class

    if model_version_id is None or not project.settings.get("auto_label"):
        return None
    with db.transaction() as session:
        row = session.get(ProjectRow, project.id)
        if row is None or not auto_labelling_on(row):
            return None
        check_spot_checks(session, row, actor=actor)
        pause = open_pause(session, project.id)
        paused = None if pause is None else pause.reason
    target = float(project.settings["auto_label_precision"])
    risk = float(project.settings["auto_label_risk"])
    metrics: dict[str, Any] = {"target_precision": target, "risk": risk}
    if paused is not None:
        metrics.update(paused=paused, n_labelled=0)
        return AutoLabelPlan(metrics)
    proba, labels = _calibration_set(db, project, model_version_id)
    found = calibrate(proba, labels, target_precision=target, risk=risk)
    metrics.update(
        n_calibration=found.n_calibration,
        threshold=found.threshold,
        bound=found.lower_bound,
        calibration_precision=found.precision,
        labels_needed=found.labels_needed,
        n_labelled=0,
    )
    if project.settings.get("auto_label_per_class"):
        per_class = calibrate_per_class(proba, labels, target_precision=target, risk=risk)
        thresholds = [c.threshold for c in per_class]
        bounds = [c.lower_bound for c in per_class]
        metrics["thresholds"] = dict(zip(project.labels, thresholds, strict=True))
        metrics["bounds"] = dict(zip(project.labels, bounds, strict=True))
    else:
        thresholds = [found.threshold] * len(project.labels)
        bounds = [found.lower_bound] * len(project.labels)
    return AutoLabelPlan(metrics, thresholds, bounds)


def pool_candidates(
    db: Database, project: ProjectSnapshot, model_version_id: int, plan: AutoLabelPlan
) -> list[tuple[int, str, float, float, float]]:
    """Rule 4's first pass: (item id, label, confidence, threshold, bound) of open pool items."""
    if not plan.active:
        return []
    cut = np.array([np.inf if t is None else t for t in plan.thresholds])
    found: list[tuple[int, str, float, float, float]] = []
    last = 0
    while True:
        with db.read() as session:
            rows = session.execute(
                select(PredictionRow.item_id, PredictionRow.probabilities)
                .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                .where(
                    PredictionRow.model_version_id == model_version_id,
                    ItemRow.is_eval.is_(False),
                    ItemRow.status == "open",
                    PredictionRow.item_id > last,
                )
                .order_by(PredictionRow.item_id)
                .limit(_PAGE)
            ).all()
        if not rows:
            return found
        last = rows[-1].item_id
        proba = np.array([[float((p or {}).get(n, 0.0)) for n in project.labels] for _, p in rows])
        top = proba.argmax(axis=1)
        confidence = proba.max(axis=1)
        for i in np.flatnonzero(confidence >= cut[top]):
            c = int(top[i])
            found.append(
                (
                    rows[i].item_id,
                    project.labels[c],
                    float(confidence[i]),
                    float(cut[c]),
                    float(plan.bounds[c] or 0.0),
                )
            )


def write_auto_labels(
    db: Database,
    project: ProjectSnapshot,
    plan: AutoLabelPlan,
    *,
    model_version_id: int,
    model_version: int,
    round_number: int,
    actor: str,
    candidates: list[tuple[int, str, float, float, float]] | None = None,
) -> dict[str, Any]:
    """Rules 4-7: write the auto-labels; returns the round's ``auto_label`` metrics.

    ``candidates`` (from `pool_candidates`) are read here when not given; people may
    label any of them in between, and their labels win (rule 4).
    """
    if candidates is None:
        candidates = pool_candidates(db, project, model_version_id, plan)
    written = {"n_labelled": 0, "n_spot_checks": 0}

    def write(session: Session, start: int, stop: int) -> None:
        chunk = {item_id: rest for item_id, *rest in candidates[start:stop]}
        project_row = session.get(ProjectRow, project.id)
        items = (
            session.execute(
                select(ItemRow)
                .where(ItemRow.id.in_(chunk), ItemRow.status == "open")
                .with_for_update()
            )
            .scalars()
            .all()
        )
        annotated = set(
            session.execute(
                select(AnnotationRow.item_id).where(
                    AnnotationRow.item_id.in_(chunk), AnnotationRow.status == "active"
                )
            ).scalars()
        )
        tasks = {
            task.item_id: task
            for task in session.execute(
                select(TaskRow)
                .where(TaskRow.item_id.in_(chunk), TaskRow.queue == "label")
                .with_for_update()
            ).scalars()
        }
        labelled, checks = [], []
        for item in items:
            if item.id in annotated:
                continue
            label, confidence, threshold, bound = chunk[item.id]
            spot = write_auto_label(
                session, project=project_row, item=item, task=tasks.get(item.id),
                label=label, confidence=confidence, threshold=threshold, bound=bound,
                model_version_id=model_version_id, model_version=model_version,
                round_number=round_number,
            )  # fmt: skip
            if spot:
                checks.append(item.external_id)
            labelled.append(item.external_id)
        if labelled:
            append_event(
                session,
                project_id=project.id,
                actor=actor,
                action="auto_label.created",
                target=f"round:{round_number}",
                after={
                    "model_version": model_version,
                    "thresholds": plan.metrics.get("thresholds", plan.metrics.get("threshold")),
                    "bounds": plan.metrics.get("bounds", plan.metrics.get("bound")),
                    "items": labelled,
                    "spot_checks": checks,
                },
            )
        written["n_labelled"] += len(labelled)
        written["n_spot_checks"] += len(checks)

    WritePacer(db, max_rows=WRITE_ROWS).write(len(candidates), write)
    metrics = {**plan.metrics, **written}
    with db.transaction() as session:
        round_row = session.execute(
            select(RoundRow).where(
                RoundRow.project_id == project.id, RoundRow.number == round_number
            )
        ).scalar_one()
        round_row.metrics = {**(round_row.metrics or {}), "auto_label": metrics}
    return metrics
