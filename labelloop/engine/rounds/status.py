"""Where a project stands: the next batch to label, its counts, and the stopping verdict.

Rules
-----
1. The next batch is the open non-eval label tasks, highest priority first, then the
   oldest; each carries its score under the newest model version, if it has one.
2. Each fitted round records its stopping criteria (`stopping_metrics`): stabilising
   predictions (agreement ``>= STOP_KAPPA`` with the previous model on the evaluation
   set) and the pool's highest uncertainty on the project's uncertainty scale, the one
   ``query`` shows, below `STOP_UNCERTAINTY` restated on that scale (`_stop_threshold`).
3. Stabilising predictions counts only over `STOP_WINDOW` retrains that each added labels
   and each stabilised: one stable pair says little while a young model barely moves
   between small batches.
4. A label budget spent says stop, whatever the model; in an entity project so does a
   token budget spent (``token_budget``: tokens of the labelled items).
5. The verdict is ``"diminishing returns: ..."`` when any criterion says stop, else
   ``"keep labelling: ..."`` with every criterion's reason.
6. Below the evaluation minimum (``eval_min_labels``, or the whole evaluation set when
   it is smaller) the model's criteria are not read: the verdict says ``"not enough
   evaluation labels yet (n of N)"``, and only a spent budget can say stop. Accuracy on
   a handful of items swings by whole tenths between rounds.
7. The headline says the verdict in plain words first, for people who do not read
   statistics: ``"labelling has stopped paying off: ..."`` naming the first criterion
   that says stop, or ``"keep labelling: ..."`` naming why (no model yet, too few
   evaluation labels, the model still changing, the model still unsure of some
   items); ``details`` holds every criterion's reason with its numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.core.auto_labels import AutoLabelStatus, auto_label_status
from labelloop.engine.core.priority import queue_reason
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.engine.rounds.inputs import LABELLED_STATUSES
from labelloop.engine.rounds.record import RoundInfo, read_rounds
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow, ProjectRow, TaskRow

__all__ = [
    "STOP_KAPPA",
    "STOP_UNCERTAINTY",
    "STOP_WINDOW",
    "QueryRow",
    "StatusInfo",
    "project_status",
    "query",
    "entity_tokens",
    "stopping_metrics",
]

STOP_KAPPA = 0.99
# Least confidence: stop once the most uncertain pool item is 95% sure of its top class.
STOP_UNCERTAINTY = 0.05
_TOKEN_PAGE = 5_000  # items read at a time when an entity project's tokens are counted
STOP_WINDOW = 3


@dataclass(frozen=True)
class QueryRow:
    """One item of the next batch: what to label, how informative it is, and why."""

    external_id: str
    score: float | None
    reason: str
    priority: float


@dataclass(frozen=True)
class StatusInfo:
    """Where a project stands: counts, rounds, and whether labelling still pays off.

    Attributes
    ----------
    project : str
        The project's name.
    should_stop : bool
        True when a stopping criterion says labelling has reached diminishing returns.
    verdict : str
        ``"keep labelling: ..."`` or ``"diminishing returns: ..."``, in words.
    reasons : tuple of str
        Each criterion's verdict in words.
    eval_needed : int
        Evaluation labels the model's metrics and criteria need (rule 6).
    eval_note : str or None
        ``"not enough evaluation labels yet (n of N)"`` below that, else None.
    n_auto_labelled : int
        Items whose standing label is an auto-label (also counted in ``n_labelled``).
    auto_label : AutoLabelStatus
        Auto-labelling: on or off, paused and why, the certified threshold, the labels
        that would allow one, the spot checks' precision with its interval.
    label_counts : dict of str to int
        Labelled items per class of the schema, in schema order (single-label projects;
        empty for multi-label).
    rare_labels : tuple of str
        The classes rare among the labels (`labelloop.strategies.rare.rare_class_labels`:
        fewer than half of an even split, or none), the ones ``rare_classes`` expands.
    headline : str
        The verdict in plain words (rule 7).
    details : str
        Every criterion's reason with its statistics, ``"; "``-joined.
    n_boxes_labelled : int or None
        A box project's boxes in its final labels (None for other task types); its
        ``label_counts`` are then boxes per class, and ``box_budget`` is a budget in
        boxes.
    tokens : dict or None
        An entity project's cost in tokens (`entity_tokens`): ``labelled`` (tokens of
        the labelled items), ``pool`` (of the open non-eval items) and ``budget`` (the
        ``token_budget`` setting, or None); None for other projects.
    """

    project: str
    n_items: int
    n_labelled: int
    n_open: int
    n_in_review: int
    n_eval: int
    n_eval_labelled: int
    rounds: tuple[RoundInfo, ...]
    should_stop: bool
    verdict: str
    reasons: tuple[str, ...]
    eval_needed: int
    eval_note: str | None
    n_auto_labelled: int = 0
    auto_label: AutoLabelStatus | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    rare_labels: tuple[str, ...] = ()
    headline: str = ""
    details: str = ""
    n_boxes_labelled: int | None = None
    tokens: dict[str, Any] | None = None


# Rule 7: each criterion's verdict in plain words, when it says stop and when it does not.
_PLAIN_STOP = {
    "stabilizing_predictions": "the model's predictions no longer change between retrains",
    "max_uncertainty": "the model is sure of every item left in the pool",
    "label_budget": "the label budget is spent",
    "box_budget": "the box budget is spent",
    "token_budget": "the token budget is spent",
}
_PLAIN_GO = {
    "stabilizing_predictions": "the model is still changing",
    "max_uncertainty": "the model is still unsure of some items",
}


def _headline(
    stopped: Sequence[str], going: Sequence[str], *, modelled: bool, eval_note: str | None
) -> str:
    """Rule 7: the verdict in plain words, from the criteria that say stop and those that
    do not (by criterion name)."""
    if stopped:
        return "labelling has stopped paying off: " + _PLAIN_STOP.get(stopped[0], stopped[0])
    if not modelled:
        return "keep labelling: no model has been trained yet"
    if eval_note is not None:
        return "keep labelling: too few evaluation labels to judge the model yet"
    for criterion in ("stabilizing_predictions", "max_uncertainty"):
        if criterion in going:
            return "keep labelling: " + _PLAIN_GO[criterion]
    return "keep labelling: " + _PLAIN_GO["stabilizing_predictions"]


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError(f"n must be a positive number of items, got {n!r}", field="n")
    return n


def query(db: Database, project: int | str, n: int = 10) -> list[QueryRow]:
    """The next ``n`` items to label: open non-eval tasks, highest priority first.

    Each row carries the item's external id, its informativeness score under the newest
    model version (None before the first model), the reason it is there, and its priority.
    """
    n = _check_n(n)
    with db.read() as session:
        proj = resolve_project(session, project)
        rows = session.execute(
            select(TaskRow.item_id, TaskRow.priority, TaskRow.reason, ItemRow.external_id)
            .join(ItemRow, ItemRow.id == TaskRow.item_id)
            .where(
                TaskRow.project_id == proj.id,
                TaskRow.queue == "label",
                TaskRow.status == "open",
                TaskRow.is_eval.is_(False),
            )
            .order_by(TaskRow.priority.desc(), TaskRow.id)
            .limit(n)
        ).all()
        latest = session.execute(
            select(ModelVersionRow.id, ModelVersionRow.version)
            .where(ModelVersionRow.project_id == proj.id)
            .order_by(ModelVersionRow.version.desc())
            .limit(1)
        ).first()
        scores: dict[int, float] = {}
        if latest is not None and rows:
            scores = dict(
                session.execute(
                    select(PredictionRow.item_id, PredictionRow.score).where(
                        PredictionRow.model_version_id == latest.id,
                        PredictionRow.item_id.in_([r.item_id for r in rows]),
                    )
                ).all()
            )
    result = []
    for row in rows:
        score = scores.get(row.item_id)
        ranked_by = latest.version if score is not None else None
        reason = queue_reason(row.reason, is_eval=False, ranked_by=ranked_by)
        result.append(QueryRow(row.external_id, score, reason, float(row.priority)))
    return result


def _stop_threshold(measure: str) -> float:
    """`STOP_UNCERTAINTY` on the scale ``measure`` names: a two-class item's score there.

    For two classes (and each label of a multi-label task) every scale then stops where
    least confidence below 0.05 does: margin 0.1, ratio 0.0526, entropy 0.1985 nats.
    """
    from labelloop import strategies

    item = np.array([[1.0 - STOP_UNCERTAINTY, STOP_UNCERTAINTY]])
    return float(getattr(strategies, measure)(item)[0])


def stopping_metrics(
    previous: list[str], current: list[str], max_uncertainty: float | None, *, measure: str
) -> dict[str, Any]:
    """Rule 2: each criterion's verdict on a fitted round, by criterion name.

    ``previous`` and ``current`` are the labels the previous model and this one predict
    for the same evaluation items; ``max_uncertainty`` the pool's highest on the scale
    ``measure`` names.
    """
    from labelloop.strategies import stopping

    verdicts: dict[str, Any] = {}
    if previous:
        decision = stopping.stabilizing_predictions(previous, current, threshold=STOP_KAPPA)
        verdicts["stabilizing_predictions"] = {
            "stop": decision.stop,
            "value": decision.value,
            "reason": decision.reason,
        }
    if max_uncertainty is not None:
        threshold = _stop_threshold(measure)
        decision = stopping.max_uncertainty_below(np.array([max_uncertainty]), threshold)
        verdicts["max_uncertainty"] = {
            "stop": decision.stop,
            "value": decision.value,
            "measure": measure,
            "reason": f"{decision.reason} ({measure.replace('_', ' ')})",
        }
    return verdicts


def _stable_over_window(modelled: Sequence[RoundInfo]) -> bool:
    """Rule 3: whether the last `STOP_WINDOW` retrains each added labels and stabilised."""
    window = list(modelled[-STOP_WINDOW - 1 :])
    if len(window) < STOP_WINDOW + 1:
        return False
    for before, after in zip(window, window[1:], strict=False):
        verdict = after.metrics.get("stopping", {}).get("stabilizing_predictions")
        if verdict is None or not verdict["stop"] or after.n_labels <= before.n_labels:
            return False
    return True


def project_status(db: Database, project: int | str) -> StatusInfo:
    """Counts, rounds with metrics, and the stopping verdict of a project (rules 2-5)."""
    from labelloop.strategies import stopping

    with db.read() as session:
        proj = resolve_project(session, project)
        counts: dict[tuple[str, bool], int] = {}
        for status, is_eval, count in session.execute(
            select(ItemRow.status, ItemRow.is_eval, func.count())
            .where(ItemRow.project_id == proj.id)
            .group_by(ItemRow.status, ItemRow.is_eval)
        ):
            counts[(status, bool(is_eval))] = count
        rounds = read_rounds(session, proj.id)
        settings = effective_settings(proj)
        auto = auto_label_status(session, proj)
        project_name = proj.name
        tokens = entity_tokens(session, proj, settings) if proj.task_type == "ner" else None
        label_counts: dict[str, int] = {}
        boxed = proj.task_type == "boxes"
        n_boxes: int | None = None
        if boxed:
            label_counts = {name: 0 for name in proj.labels}
            n_boxes = 0
            for (label,) in session.execute(
                select(ItemRow.final_label).where(
                    ItemRow.project_id == proj.id, ItemRow.status.in_(LABELLED_STATUSES)
                )
            ):
                for box in label if isinstance(label, list) else ():
                    n_boxes += 1
                    if box.get("label") in label_counts:
                        label_counts[box["label"]] += 1
        elif not proj.multi_label and proj.task_type != "ner":
            label_counts = {name: 0 for name in proj.labels}
            for label, count in session.execute(
                select(ItemRow.final_label, func.count())
                .where(ItemRow.project_id == proj.id, ItemRow.status.in_(LABELLED_STATUSES))
                .group_by(ItemRow.final_label)
            ):
                if isinstance(label, str) and label in label_counts:
                    label_counts[label] += count

    def total(statuses: Sequence[str] | None = None, is_eval: bool | None = None) -> int:
        return sum(
            c
            for (s, e), c in counts.items()
            if (statuses is None or s in statuses) and (is_eval is None or e == is_eval)
        )

    n_labelled = total(LABELLED_STATUSES)
    n_eval, n_eval_labelled = total(is_eval=True), total(LABELLED_STATUSES, is_eval=True)
    eval_needed = min(int(settings["eval_min_labels"]), n_eval)
    eval_note = None
    if n_eval_labelled < eval_needed:
        eval_note = f"not enough evaluation labels yet ({n_eval_labelled} of {eval_needed})"
    reasons: list[str] = []
    stops: list[str] = []
    stopped: list[str] = []
    going: list[str] = []
    modelled = [r for r in rounds if r.model_version is not None]
    if boxed:
        reasons.append(
            f"{n_boxes} boxes labelled; box projects train no model: the queue follows the "
            "boxes client detectors push"
        )
    elif not modelled:
        reasons.append("no model trained yet: label items of at least two classes and train")
    if eval_note is not None:
        reasons.append(eval_note)
    elif modelled:
        for criterion, verdict in modelled[-1].metrics.get("stopping", {}).items():
            reasons.append(verdict["reason"])
            stop = verdict["stop"]
            if criterion == "stabilizing_predictions":
                stop = _stable_over_window(modelled)
                if verdict["stop"] and not stop:
                    reasons.append(
                        f"predictions must stay stable over {STOP_WINDOW} retrains "
                        "that each add labels before that counts"
                    )
            if stop:
                stops.append(verdict["reason"])
                stopped.append(criterion)
            else:
                going.append(criterion)
    budget = settings.get("label_budget")
    if budget:
        decision = stopping.budget_exhausted(n_labelled, int(budget))
        reasons.append(decision.reason)
        if decision.stop:
            stops.append(decision.reason)
            stopped.append("label_budget")
    box_budget = settings.get("box_budget")
    if boxed and box_budget:
        decision = stopping.budget_exhausted(int(n_boxes or 0), int(box_budget))
        used, budget_boxes = int(n_boxes or 0), int(box_budget)
        reason = (
            f"box budget spent: {used} of {budget_boxes} boxes used"
            if decision.stop
            else f"{budget_boxes - used} of {budget_boxes} boxes left in the budget"
        )
        reasons.append(reason)
        if decision.stop:
            stops.append(reason)
            stopped.append("box_budget")
    if tokens is not None and tokens["budget"]:
        spent = tokens["labelled"] >= tokens["budget"]
        reason = f"{tokens['labelled']} of {tokens['budget']} budgeted tokens labelled" + (
            ": the token budget is spent" if spent else ""
        )
        reasons.append(reason)
        if spent:
            stops.append(reason)
            stopped.append("token_budget")
    if stops:
        verdict_text = "diminishing returns: " + "; ".join(stops)
    else:
        verdict_text = "keep labelling: " + "; ".join(reasons)
    return StatusInfo(
        project=project_name,
        n_items=total(),
        n_labelled=n_labelled,
        n_open=total(("open",)),
        n_in_review=total(("in_review",)),
        n_eval=n_eval,
        n_eval_labelled=n_eval_labelled,
        rounds=tuple(rounds),
        should_stop=bool(stops),
        verdict=verdict_text,
        reasons=tuple(reasons),
        eval_needed=eval_needed,
        eval_note=eval_note,
        n_auto_labelled=auto.n_auto_labelled,
        auto_label=auto,
        label_counts=label_counts,
        rare_labels=tuple(_rare_labels(label_counts)),
        headline=(
            _headline(stopped, going, modelled=bool(modelled), eval_note=eval_note)
            if not boxed or stopped
            else f"keep labelling: {n_boxes} boxes labelled so far"
        ),
        details="; ".join(reasons),
        n_boxes_labelled=n_boxes,
        tokens=tokens,
    )


def entity_tokens(
    session: Session, project: ProjectRow, settings: dict[str, Any]
) -> dict[str, Any]:
    """An entity project's cost in tokens: of its labelled items and of its open pool.

    Tokens are the project's (its ``model`` setting's ``token_pattern``, else the default
    tokenizer's), counted on each item's ``text`` as it is read, page by page. This reads
    every labelled and open item's text: its cost grows with the project.
    """
    from labelloop.ner import DEFAULT_TOKEN_PATTERN, RegexTokenizer

    spec = settings.get("model")
    pattern = spec.get("token_pattern") if isinstance(spec, dict) else None
    # The tokenizer's matches, counted without building tokens (8x faster than listing them).
    regex = re.compile(RegexTokenizer(pattern or DEFAULT_TOKEN_PATTERN).pattern)

    def count(text: str) -> int:
        return sum(1 for m in regex.finditer(text) if m.end() > m.start())

    field_name = (spec.get("text_field") if isinstance(spec, dict) else None) or "text"
    counted = {"labelled": 0, "pool": 0}
    rows = session.execute(
        select(ItemRow.status, ItemRow.is_eval, ItemRow.payload)
        .where(
            ItemRow.project_id == project.id,
            ItemRow.status.in_((*LABELLED_STATUSES, "open")),
        )
        .execution_options(yield_per=_TOKEN_PAGE)
    )
    for status, is_eval, payload in rows:
        text = (payload or {}).get(field_name)
        if not isinstance(text, str):
            continue
        if status in LABELLED_STATUSES:
            counted["labelled"] += count(text)
        elif not is_eval:
            counted["pool"] += count(text)
    budget = settings.get("token_budget")
    return {**counted, "budget": int(budget) if budget else None}


def _rare_labels(label_counts: dict[str, int]) -> list[str]:
    from labelloop.strategies.rare import rare_class_labels

    names = list(label_counts)
    if not names:
        return []
    labels = np.repeat(np.arange(len(names)), list(label_counts.values()))
    return [names[i] for i in rare_class_labels(labels, list(range(len(names))))]
