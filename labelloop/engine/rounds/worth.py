"""What labelling is worth, and what is left: the forecast and the savings of a project.

Rules
-----
1. The learning curve is the project's fitted rounds with an evaluation score of the
   ``target_metric`` setting, read once the evaluation set had its minimum of labels
   (``eval_min_labels``, or the whole evaluation set when it is smaller: rule 6 of
   `status`): scores on a handful of items swing by
   tenths. Rounds at the same label count are averaged by the fit.
2. Each fitted round records random sampling's learning curve on its labelled
   evaluation items (`random_sampling_curve`, from `MIN_RANDOM_CURVE_ITEMS` of them,
   on a random `MAX_RANDOM_CURVE_ITEMS` of them past that; a round whose evaluation
   set has as many labels as the previous round's carries that round's curve over):
   the evaluation set is a random sample, so it traces what random sampling would have
   given. The savings read the newest round's curve at that round's score.
3. The forecast needs `labelloop.forecast.MIN_POINTS` label counts on the curve; the
   labels left need the ``target_score`` setting. Without them the answer says what
   is missing, in words, and still gives what it can.
4. The pace is the project's human labels that stand, over the last 7 days before the
   newest (`labelloop.forecast.labelling_pace`).
5. Fits are pure functions of the curve and the target, so they are memoised: a
   dashboard read again before the next round fits nothing.

Read-only: nothing here changes state, so nothing is audited.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.engine.rounds.record import RoundInfo, read_rounds
from labelloop.exceptions import ValidationError
from labelloop.forecast import (
    MIN_POINTS,
    Forecast,
    LearningCurve,
    Savings,
    fit_learning_curve,
    forecast_labels,
    labelling_pace,
    random_curve_points,
    savings_against_random,
)
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow

if TYPE_CHECKING:
    from labelloop.models.builtin import ProjectModel

__all__ = [
    "MAX_RANDOM_CURVE_ITEMS",
    "MIN_RANDOM_CURVE_ITEMS",
    "ProjectWorth",
    "project_worth",
    "random_sampling_curve",
]

MIN_RANDOM_CURVE_ITEMS = 30
# Past this many labelled evaluation items the curve is traced on a random subset of
# them, so a round's extra fits stay small however large the evaluation set grows.
MAX_RANDOM_CURVE_ITEMS = 2000
_PACE_SAMPLE = 5000
_BAND_STEPS = 8
_METRIC_NAMES = {"macro_f1": "macro-F1", "accuracy": "accuracy"}


@dataclass(frozen=True)
class ProjectWorth:
    """A project's forecast and savings against random sampling.

    Attributes
    ----------
    metric : str
        The score read (``target_metric``).
    target : float or None
        The ``target_score`` setting.
    curve : tuple of (int, float)
        The learning-curve points fitted (rule 1).
    forecast : Forecast or None
        Labels left to the target, with the time at ``pace``; None without a target or
        a curve long enough.
    at_double : tuple of float or None
        ``(score, low, high)`` predicted at twice the labels.
    band : tuple of (int, float, float, float)
        ``(labels, score, low, high)`` from now to twice the labels, for the chart.
    savings : Savings or None
        Labels saved against random sampling (rule 2).
    pace : float or None
        Labels per hour (rule 4).
    notes : tuple of str
        What is missing, in words (rule 3).
    """

    metric: str
    target: float | None
    curve: tuple[tuple[int, float], ...]
    forecast: Forecast | None
    at_double: tuple[float, float, float] | None
    band: tuple[tuple[int, float, float, float], ...]
    savings: Savings | None
    pace: float | None
    notes: tuple[str, ...]

    @property
    def sentences(self) -> tuple[str, ...]:
        """The savings, the forecast and the notes in words, for people."""
        found = []
        if self.savings is not None:
            found.append(self.savings.sentence)
        if self.forecast is not None:
            found.append(self.forecast.sentence)
        elif self.at_double is not None:
            score, low, high = self.at_double
            n = self.curve[-1][0] * 2
            found.append(
                f"with {n:,} labels the model should score about {score:.2f} ({low:.2f}-{high:.2f})"
            )
        return (*found, *self.notes)


def random_sampling_curve(
    model: ProjectModel, X_eval: Any, y_eval: np.ndarray, *, seed: int
) -> dict[str, list[float]] | None:
    """Rule 2: random sampling's curve on the labelled evaluation items, for a round's metrics.

    Returns ``{"n_labels": [...], "macro_f1": [...], "accuracy": [...]}``, or None below
    `MIN_RANDOM_CURVE_ITEMS` items or when no subset could be fitted.
    """
    from labelloop.models.builtin import label_metrics

    if len(y_eval) < MIN_RANDOM_CURVE_ITEMS:
        return None
    if len(y_eval) > MAX_RANDOM_CURVE_ITEMS:  # a random sample of a random sample
        keep = np.sort(
            np.random.default_rng(seed).choice(len(y_eval), MAX_RANDOM_CURVE_ITEMS, replace=False)
        )
        X_eval, y_eval = X_eval[keep], y_eval[keep]
    metrics = tuple(_METRIC_NAMES)

    def score(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, ...]:
        found = label_metrics(model, y_true, y_pred)
        return tuple(found[metric] for metric in metrics)

    n, scores = random_curve_points(
        model.classifier, X_eval, y_eval, score=score, random_state=seed
    )
    if len(n) < MIN_POINTS:
        return None
    curve: dict[str, list[float]] = {"n_labels": [int(v) for v in n]}
    for column, metric in enumerate(metrics):
        curve[metric] = [round(float(v), 6) for v in scores[:, column]]
    return curve


def _curve_points(
    rounds: Sequence[RoundInfo], metric: str, eval_needed: int
) -> list[tuple[int, float]]:
    """Rule 1: (labels, score) of each fitted round past the evaluation minimum."""
    points = []
    for entry in rounds:
        scores = entry.metrics.get("eval") or {}
        value = scores.get(metric)
        enough = entry.metrics.get("n_eval_labelled", scores.get("n", 0)) >= eval_needed
        if entry.model_version is not None and isinstance(value, int | float) and enough:
            points.append((entry.n_labels, float(value)))
    return points


@functools.lru_cache(maxsize=256)
def _fitted(points: tuple[tuple[int, float], ...]) -> LearningCurve:
    n, scores = zip(*points, strict=True)
    return fit_learning_curve(n, scores)


@functools.lru_cache(maxsize=256)
def _forecast(points: tuple[tuple[int, float], ...], target: float) -> Forecast:
    n, scores = zip(*points, strict=True)
    return forecast_labels(n, scores, target=target)


@functools.lru_cache(maxsize=256)
def _savings(
    random_curve: tuple[tuple[int, float], ...], n_labels: int, score: float, metric: str
) -> Savings:
    n, scores = zip(*random_curve, strict=True)
    return savings_against_random(
        n, scores, n_labels=n_labels, score=score, metric=_METRIC_NAMES[metric]
    )


def _band(curve: LearningCurve) -> tuple[tuple[int, float, float, float], ...]:
    now = int(curve.n_labels.max())
    steps = np.linspace(now, 2 * now, _BAND_STEPS)
    return tuple((int(n), *(round(v, 4) for v in curve.predict_interval(float(n)))) for n in steps)


def _read_savings(
    rounds: Sequence[RoundInfo], metric: str, eval_needed: int, notes: list[str]
) -> Savings | None:
    """Rule 2 on the newest fitted round with a random curve and a score past the minimum."""
    for entry in reversed(rounds):
        found = _curve_points([entry], metric, eval_needed)
        stored = entry.metrics.get("random_curve")
        if not found or not stored:
            continue
        random_curve = tuple(zip(stored["n_labels"], stored[metric], strict=True))
        n_labels, score = found[0]
        if score <= 0:
            break
        try:
            return _savings(random_curve, n_labels, score, metric)
        except ValidationError as error:  # a random curve no family fits says nothing
            notes.append(f"savings against random sampling: {error}")
            return None
    notes.append(
        f"savings against random sampling need {MIN_RANDOM_CURVE_ITEMS} labelled "
        "evaluation items and a round trained since"
    )
    return None


def project_worth(db: Database, project: int | str) -> ProjectWorth:
    """The forecast (labels left to the target, time at the team's pace) and the savings.

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.

    Returns
    -------
    ProjectWorth
        With ``notes`` saying what is missing where a part cannot be given (rule 3).

    Raises
    ------
    NotFoundError
        No such project.
    """
    with db.read() as session:
        proj = resolve_project(session, project)
        rounds = read_rounds(session, proj.id)
        settings = effective_settings(proj)
        n_eval = session.execute(
            select(func.count()).where(ItemRow.project_id == proj.id, ItemRow.is_eval.is_(True))
        ).scalar_one()
        moments = list(
            session.execute(
                select(AnnotationRow.created_at)
                .where(
                    AnnotationRow.project_id == proj.id,
                    AnnotationRow.source == "human",
                    AnnotationRow.status != "undone",
                )
                .order_by(AnnotationRow.id.desc())
                .limit(_PACE_SAMPLE)
            ).scalars()
        )
    metric = str(settings["target_metric"])
    target = settings.get("target_score")
    eval_needed = min(int(settings["eval_min_labels"]), n_eval)
    notes: list[str] = []
    points = tuple(_curve_points(rounds, metric, eval_needed))
    pace = labelling_pace(moments)
    forecast, at_double, band = None, None, ()
    if len({n for n, _ in points}) < MIN_POINTS:
        notes.append(
            f"the forecast needs {MIN_POINTS} rounds at different label counts scored on "
            f"{eval_needed} or more evaluation labels; {len(points)} so far"
        )
    else:
        curve = _fitted(points)
        at_double = curve.predict_interval(2 * float(curve.n_labels.max()))
        band = _band(curve)
        if target is None:
            notes.append("set the target_score setting to forecast the labels left")
        else:
            forecast = _forecast(points, float(target))
            if pace is not None and forecast.reachable:
                forecast = _with_pace(forecast, pace)
    if forecast is not None and forecast.reachable and pace is None and forecast.labels_left:
        notes.append("no recent labelling pace: the time left needs 5 or more recent labels")
    savings = _read_savings(rounds, metric, eval_needed, notes)
    return ProjectWorth(
        metric=metric,
        target=float(target) if target is not None else None,
        curve=points,
        forecast=forecast,
        at_double=at_double,
        band=band,
        savings=savings,
        pace=pace,
        notes=tuple(notes),
    )


def _with_pace(forecast: Forecast, pace: float) -> Forecast:
    import dataclasses

    def hours(labels: int | None) -> float | None:
        return None if labels is None else max(0, labels - forecast.n_labels) / pace

    return dataclasses.replace(
        forecast,
        pace=pace,
        hours_left=hours(forecast.labels_needed),
        hours_low=hours(forecast.labels_low),
        hours_high=hours(forecast.labels_high),
    )
