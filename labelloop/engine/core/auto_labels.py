"""Auto-labels measured by spot checks, and the pause that follows when they fall short.

Auto-labels are written by rounds (`labelloop.engine.rounds.auto_labels`) and by stream
mode on an item's arrival (`labelloop.engine.stream`), both through `write_auto_label`;
this module holds what they, the annotation path and the status share.

Rules
-----
1. A spot check is an auto-labelled item also sent to people as an ordinary task. It
   is *checked* once people have decided its label (its final label stands and came
   from a human or a reviewer); it is *correct* when that label equals the auto-label.
2. The measured precision is ``correct / checked`` over the spot checks of auto-labels
   made since auto-labelling last resumed (all of them if it never paused), with its
   two-sided Clopper-Pearson interval at level ``1 - auto_label_risk``.
3. When that interval's upper bound falls below ``auto_label_precision``, auto-labelling
   pauses for the project (`check_spot_checks`): a pause row, the audit event
   ``auto_label.paused`` and the webhook event ``auto_label.paused``, in the caller's
   transaction. It is checked when a spot check is answered and before a round
   auto-labels. A paused project gets no new auto-labels until an admin resumes it.
4. Auto-labelling is off unless the ``auto_label`` setting is on; single-label projects
   only (a top-class probability has no meaning for a set of labels).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.automation import precision_interval
from labelloop.engine.core.final_label import LABELLED_STATUSES, settle_item
from labelloop.engine.core.labels import AUTO_SOURCE, label_key
from labelloop.engine.core.outbox import emit_event
from labelloop.engine.core.settings import effective_settings
from labelloop.store.audit import append_event
from labelloop.store.tables import (
    AnnotationRow,
    AutoLabelPauseRow,
    AutoLabelRow,
    ItemRow,
    ProjectRow,
    RoundRow,
    TaskRow,
)

__all__ = [
    "PEOPLE_SOURCES",
    "SPOT_CHECK_PRIORITY",
    "SPOT_CHECK_REASON",
    "CertifiedCut",
    "certified_cut",
    "write_auto_label",
    "AutoLabelStatus",
    "SpotChecks",
    "auto_label_status",
    "auto_labelling_on",
    "check_spot_checks",
    "measure_spot_checks",
    "open_pause",
]

# The final-label sources that mean people decided (rule 1).
PEOPLE_SOURCES = ("human", "review")

# A spot check's task: above every ranked pool task ([0, 1)), below the picked batch
# ((2, 3]), with a reason that does not say the item was auto-labelled.
SPOT_CHECK_PRIORITY = 1.0
SPOT_CHECK_REASON = "a random sample of the pool"


def is_spot_check(project_id: int, round_number: int, item_id: int, share: float) -> bool:
    """Whether an auto-label is also sent to people (drawn by project, round and item, so
    a re-run decides the same)."""
    return random.Random(f"{project_id}:{round_number}:{item_id}").random() < share


def write_auto_label(
    session: Session,
    *,
    project: ProjectRow,
    item: ItemRow,
    task: TaskRow | None,
    label: str,
    confidence: float,
    threshold: float,
    bound: float,
    model_version_id: int,
    model_version: int,
    round_number: int,
) -> bool:
    """Auto-label one open item without an active annotation, in the caller's transaction.

    A ``model`` annotation (actor ``model:v<version>``), its `AutoLabelRow`, the item's
    final label through `settle_item`; its label task closed, or, for a spot check
    (``auto_label_spot_check``), left open at `SPOT_CHECK_PRIORITY`. Returns whether it
    is a spot check. The caller audits.
    """
    annotation = AnnotationRow(
        project_id=project.id, item_id=item.id, task_id=task.id if task else None,
        actor=f"model:v{model_version}", source=AUTO_SOURCE, label=label,
    )  # fmt: skip
    session.add(annotation)
    session.flush()
    share = float(effective_settings(project)["auto_label_spot_check"])
    spot = task is not None and is_spot_check(project.id, round_number, item.id, share)
    session.add(
        AutoLabelRow(
            project_id=project.id, item_id=item.id, annotation_id=annotation.id,
            model_version_id=model_version_id, round_number=round_number,
            confidence=confidence, threshold=threshold, bound=bound, spot_check=spot,
        )
    )  # fmt: skip
    if task is not None:
        if spot:
            task.priority, task.reason = SPOT_CHECK_PRIORITY, SPOT_CHECK_REASON
        else:
            task.status = "done"
    settle_item(session, project=project, item=item, task=task)
    return spot


@dataclass(frozen=True)
class CertifiedCut:
    """The thresholds the latest round certified for a model version, per class.

    ``thresholds[c]`` is None for a class with no certified threshold.
    """

    round_number: int
    model_version_id: int
    thresholds: tuple[float | None, ...]
    bounds: tuple[float | None, ...]

    def clears(self, proba: dict[str, float], labels: list[str]) -> tuple[str, float, int] | None:
        """(label, confidence, class index) when the top class clears its threshold."""
        values = [float(proba.get(name, 0.0)) for name in labels]
        top = max(range(len(values)), key=values.__getitem__)
        cut = self.thresholds[top]
        if cut is None or values[top] < cut:
            return None
        return labels[top], values[top], top


def certified_cut(
    session: Session, project: ProjectRow, model_version_id: int
) -> CertifiedCut | None:
    """The project's current certified thresholds: those of the latest round, when it
    fitted ``model_version_id`` and certified one; None when auto-labelling is off or
    paused, or nothing is certified."""
    if not auto_labelling_on(project) or open_pause(session, project.id) is not None:
        return None
    found = session.execute(
        select(RoundRow.number, RoundRow.model_version_id, RoundRow.metrics)
        .where(RoundRow.project_id == project.id)
        .order_by(RoundRow.id.desc())
        .limit(1)
    ).first()
    if found is None or found.model_version_id != model_version_id:
        return None
    metrics = (found.metrics or {}).get("auto_label") or {}
    labels = list(project.labels)
    if isinstance(metrics.get("thresholds"), dict):
        thresholds = tuple(metrics["thresholds"].get(name) for name in labels)
        bounds = tuple((metrics.get("bounds") or {}).get(name) for name in labels)
    else:
        thresholds = (metrics.get("threshold"),) * len(labels)
        bounds = (metrics.get("bound"),) * len(labels)
    if all(t is None for t in thresholds):
        return None
    return CertifiedCut(int(found.number), model_version_id, thresholds, bounds)


@dataclass(frozen=True)
class SpotChecks:
    """The spot checks' measurement (rule 2).

    Attributes
    ----------
    sent : int
        Spot checks sent to people since auto-labelling last resumed.
    checked : int
        Those people have decided.
    correct : int
        Those whose auto-label people confirmed.
    precision : float or None
        ``correct / checked``; None before any is checked.
    low, high : float
        The interval of the precision at level ``1 - auto_label_risk``.
    """

    sent: int
    checked: int
    correct: int
    precision: float | None
    low: float
    high: float


def auto_labelling_on(project: ProjectRow) -> bool:
    """Rule 4: the ``auto_label`` setting is on and the project is single-label."""
    return bool(effective_settings(project)["auto_label"]) and not project.multi_label


def open_pause(session: Session, project_id: int) -> AutoLabelPauseRow | None:
    """The project's pause not yet resumed, if any."""
    return session.execute(
        select(AutoLabelPauseRow)
        .where(AutoLabelPauseRow.project_id == project_id, AutoLabelPauseRow.resumed_at.is_(None))
        .order_by(AutoLabelPauseRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _resumed_since(session: Session, project_id: int) -> dt.datetime | None:
    return session.execute(
        select(AutoLabelPauseRow.resumed_at)
        .where(
            AutoLabelPauseRow.project_id == project_id, AutoLabelPauseRow.resumed_at.is_not(None)
        )
        .order_by(AutoLabelPauseRow.resumed_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def measure_spot_checks(session: Session, project: ProjectRow) -> SpotChecks:
    """Rules 1 and 2, in the caller's session."""
    query = (
        select(AnnotationRow.label, ItemRow.status, ItemRow.final_label, ItemRow.label_source)
        .select_from(AutoLabelRow)
        .join(AnnotationRow, AnnotationRow.id == AutoLabelRow.annotation_id)
        .join(ItemRow, ItemRow.id == AutoLabelRow.item_id)
        .where(AutoLabelRow.project_id == project.id, AutoLabelRow.spot_check.is_(True))
    )
    since = _resumed_since(session, project.id)
    if since is not None:
        query = query.where(AutoLabelRow.created_at > since)
    sent = checked = correct = 0
    for auto_label, status, final_label, source in session.execute(query):
        sent += 1
        if status in LABELLED_STATUSES and source in PEOPLE_SOURCES and final_label is not None:
            checked += 1
            correct += label_key(final_label) == label_key(auto_label)
    risk = float(effective_settings(project)["auto_label_risk"])
    low, high = precision_interval(correct, checked, risk=risk)
    precision = correct / checked if checked else None
    return SpotChecks(sent, checked, correct, precision, low, high)


def _pause_reason(checks: SpotChecks, target: float) -> str:
    return (
        f"spot checks confirmed {checks.correct} of {checks.checked} auto-labels "
        f"(precision {checks.precision:.1%}, interval up to {checks.high:.1%}), "
        f"below the target {target:.1%}"
    )


def check_spot_checks(
    session: Session, project: ProjectRow, *, actor: str
) -> AutoLabelPauseRow | None:
    """Rule 3: pause auto-labelling when the spot checks fall short; the new pause or None.

    Does nothing when auto-labelling is off or already paused.
    """
    if not auto_labelling_on(project) or open_pause(session, project.id) is not None:
        return None
    checks = measure_spot_checks(session, project)
    target = float(effective_settings(project)["auto_label_precision"])
    if checks.checked == 0 or checks.high >= target:
        return None
    reason = _pause_reason(checks, target)
    pause = AutoLabelPauseRow(
        project_id=project.id,
        reason=reason,
        checked=checks.checked,
        correct=checks.correct,
        upper=checks.high,
    )
    session.add(pause)
    session.flush()
    details: dict[str, Any] = {
        "reason": reason,
        "checked": checks.checked,
        "correct": checks.correct,
        "precision": checks.precision,
        "interval": [checks.low, checks.high],
        "target": target,
    }
    append_event(
        session,
        project_id=project.id,
        actor=actor,
        action="auto_label.paused",
        target=f"project:{project.name}",
        after=details,
    )
    emit_event(session, project_id=project.id, event="auto_label.paused", payload=details)
    return pause


@dataclass(frozen=True)
class AutoLabelStatus:
    """Where a project's auto-labelling stands, for the status and the dashboard.

    Attributes
    ----------
    enabled : bool
        The ``auto_label`` setting is on (and the project is single-label).
    paused : bool
    pause_reason : str or None
    n_auto_labelled : int
        Items whose standing label is an auto-label.
    target_precision, risk : float
    threshold, bound : float or None
        The latest round's certified threshold and the precision's lower bound there.
    thresholds : dict or None
        With ``auto_label_per_class``: each class's certified threshold (None: none).
    labels_needed : int or None
        More evaluation labels that would allow a certified threshold (the latest
        round's; 0 when one is certified, None when more labels alone would not do).
    spot_checks : SpotChecks
    note : str
        The state in one sentence.
    """

    enabled: bool
    paused: bool
    pause_reason: str | None
    n_auto_labelled: int
    target_precision: float
    risk: float
    threshold: float | None
    bound: float | None
    thresholds: dict[str, float | None] | None
    labels_needed: int | None
    spot_checks: SpotChecks
    note: str


def _note(enabled: bool, pause: str | None, latest: dict[str, Any] | None) -> str:
    if not enabled:
        return "auto-labelling is off"
    if pause is not None:
        return f"auto-labelling is paused: {pause}; an admin resumes it"
    if latest is None:
        return "auto-labelling starts with the next round that fits a model"
    if latest.get("threshold") is not None or any((latest.get("thresholds") or {}).values()):
        return (
            f"auto-labelling items at or above the certified threshold "
            f"(precision at least {latest['target_precision']:.0%} "
            f"with probability {1 - latest['risk']:.0%})"
        )
    needed = latest.get("labels_needed")
    if needed is None:
        return (
            "nothing auto-labelled: the model is not precise enough even where it is most "
            "sure; more evaluation labels alone would not allow it"
        )
    return (
        f"nothing auto-labelled: no threshold can be certified yet; about {needed} more "
        "evaluation labels would allow it"
    )


def auto_label_status(session: Session, project: ProjectRow) -> AutoLabelStatus:
    """The project's auto-labelling: setting, pause, latest threshold, spot checks."""
    settings = effective_settings(project)
    enabled = auto_labelling_on(project)
    pause = open_pause(session, project.id)
    metrics = session.execute(
        select(RoundRow.metrics)
        .where(RoundRow.project_id == project.id, RoundRow.model_version_id.is_not(None))
        .order_by(RoundRow.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    latest = (metrics or {}).get("auto_label")
    n_auto = session.execute(
        select(func.count())
        .select_from(ItemRow)
        .where(
            ItemRow.project_id == project.id,
            ItemRow.status.in_(LABELLED_STATUSES),
            ItemRow.label_source == "model",
        )
    ).scalar_one()
    latest_threshold = latest.get("threshold") if latest else None
    return AutoLabelStatus(
        enabled=enabled,
        paused=pause is not None,
        pause_reason=None if pause is None else pause.reason,
        n_auto_labelled=int(n_auto),
        target_precision=float(settings["auto_label_precision"]),
        risk=float(settings["auto_label_risk"]),
        threshold=latest_threshold,
        bound=latest.get("bound") if latest else None,
        thresholds=latest.get("thresholds") if latest else None,
        labels_needed=latest.get("labels_needed") if latest else None,
        spot_checks=measure_spot_checks(session, project),
        note=_note(enabled, None if pause is None else pause.reason, latest),
    )
