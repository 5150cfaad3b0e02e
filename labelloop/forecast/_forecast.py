"""The forecast: labels still needed to reach a target score, and the time at the team's pace.

Rules
-----
1. A curve needs at least `MIN_POINTS` points at distinct label counts; repeated counts
   are averaged, points are read in label order.
2. "Not reachable at this rate" when the fitted ceiling is at or below the target, or
   the curve reaches it only beyond `MAX_LABELS`; the forecast then gives no count.
3. A target the last point already reached needs no more labels.
4. The pace is human labels per hour over the recent window: the labels given in the
   last ``window_hours`` before the newest, the gaps between them over the hours from the
   oldest of them to the newest (at least one hour, so a burst of labels does not
   promise a flood). Fewer
   than `MIN_PACE_LABELS` recent labels give no pace, and then no time.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.forecast._curves import (
    FAMILIES,
    FORECAST_FAMILIES,
    MAX_LABELS,
    LearningCurve,
    _fit_curve,
)
from labelloop.strategies._validation import check_random_state

__all__ = [
    "MAX_LABELS",
    "MIN_PACE_LABELS",
    "MIN_POINTS",
    "Forecast",
    "fit_learning_curve",
    "forecast_labels",
    "labelling_pace",
]

MIN_POINTS = 4
MIN_PACE_LABELS = 5


def _check_fraction(value: Any, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a number, got {value!r}", field=name)
    if not low < float(value) <= high:
        raise ValidationError(f"{name} must be in ({low}, {high}], got {value}", field=name)
    return float(value)


def _check_points(n_labels: Any, scores: Any, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """Rule 1: the points as float arrays sorted by label count, repeated counts averaged."""
    try:
        n = np.asarray(n_labels, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValidationError(
            "n_labels must be a sequence of label counts", field="n_labels"
        ) from None
    try:
        y = np.asarray(scores, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValidationError("scores must be a sequence of numbers", field="scores") from None
    if len(n) != len(y):
        raise ValidationError(
            f"n_labels has {len(n)} values and scores {len(y)}: give one score per count",
            field="scores",
        )
    bad = np.flatnonzero(~np.isfinite(n) | (n <= 0))
    if bad.size:
        raise ValidationError(
            f"n_labels.{bad[0]} must be a positive label count, got {n[bad[0]]}",
            field=f"n_labels.{bad[0]}",
        )
    bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y > upper))
    if bad.size:
        raise ValidationError(
            f"scores.{bad[0]} must be in [0, {upper}], got {y[bad[0]]}", field=f"scores.{bad[0]}"
        )
    counts, inverse = np.unique(n, return_inverse=True)
    means = np.bincount(inverse, weights=y) / np.bincount(inverse)
    if len(counts) < MIN_POINTS:
        raise ValidationError(
            f"a learning curve needs scores at {MIN_POINTS} or more label counts, "
            f"got {len(counts)}",
            field="n_labels",
        )
    return counts, means


def fit_learning_curve(
    n_labels: Sequence[float],
    scores: Sequence[float],
    *,
    families: Sequence[str] = FORECAST_FAMILIES,
    upper: float = 1.0,
    level: float = 0.8,
    n_boot: int = 100,
    random_state: int | np.random.Generator | None = 0,
) -> LearningCurve:
    """Fit a learning curve: weighted saturating fits, averaged, with a bootstrap interval.

    Parameters
    ----------
    n_labels : sequence of float
        Label counts, at least `MIN_POINTS` distinct ones.
    scores : sequence of float
        The score at each count, in ``[0, upper]``.
    families : sequence of str, default=FORECAST_FAMILIES
        The curve families averaged, some of `FAMILIES` (``pow3``, ``exp3``, ``hyp3``,
        ``flat``); the default leaves out ``exp3``.
    upper : float, default=1.0
        The highest score possible: no ceiling is fitted above it.
    level : float, default=0.8
        The coverage of the intervals.
    n_boot : int, default=100
        Bootstrap refits (0: intervals collapse to the point estimates).
    random_state : int, Generator or None, default=0

    Returns
    -------
    LearningCurve

    Raises
    ------
    ValidationError
        Naming the argument at fault (``n_labels.3``, ``scores``, ``level``, ...).

    Examples
    --------
    >>> n = [50, 100, 200, 300, 400]
    >>> curve = fit_learning_curve(n, [0.9 - 2 * x ** -0.5 for x in n], n_boot=0)
    >>> round(curve.predict(800), 2)  # the true curve gives 0.83 there
    0.82
    """
    upper = _check_fraction(upper, "upper", high=math.inf)
    level = _check_fraction(level, "level", high=0.999)
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 0:
        raise ValidationError(f"n_boot must be an integer >= 0, got {n_boot!r}", field="n_boot")
    families = tuple(families) if not isinstance(families, str) else (families,)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValidationError(
            f"unknown curve family {unknown[0] if unknown else None!r}: "
            f"use some of {', '.join(FAMILIES)}",
            field="families",
        )
    n, y = _check_points(n_labels, scores, upper)
    rng = check_random_state(random_state)
    return _fit_curve(
        n, y, families=families, upper=upper, level=level, n_boot=int(n_boot), rng=rng
    )


@dataclass(frozen=True)
class Forecast:
    """What it takes to reach a target score, and what twice the labels would give.

    Attributes
    ----------
    n_labels : int
        Labels now (the last point's count).
    score : float
        The fitted score now.
    target : float
    ceiling : float
        The fitted ceiling (rule 2).
    reachable : bool
        False: "not reachable at this rate".
    labels_needed, labels_low, labels_high : int or None
        Total labels at which the target is reached, with its interval; None when not
        reachable (``labels_high`` alone None: the interval's top is out of reach).
    labels_left : int or None
        ``labels_needed - n_labels`` (0 once reached).
    at_double : tuple of float
        ``(score, low, high)`` predicted at twice the labels.
    level : float
        The intervals' coverage.
    pace : float or None
        Labels per hour (rule 4) when given.
    hours_left, hours_low, hours_high : float or None
        Time to the target at that pace.
    """

    n_labels: int
    score: float
    target: float
    ceiling: float
    reachable: bool
    labels_needed: int | None
    labels_low: int | None
    labels_high: int | None
    labels_left: int | None
    at_double: tuple[float, float, float]
    level: float
    pace: float | None = None
    hours_left: float | None = None
    hours_low: float | None = None
    hours_high: float | None = None
    curve: LearningCurve | None = field(default=None, repr=False, compare=False)

    @property
    def sentence(self) -> str:
        """The forecast in one sentence for people."""
        if not self.reachable:
            return (
                f"target {self.target:.2f} is not reachable at this rate: the curve levels "
                f"off near {self.ceiling:.2f}"
            )
        if self.labels_left == 0:
            return f"target {self.target:.2f} reached with {self.n_labels:,} labels"
        span = (
            f"{self.labels_low:,}-{self.labels_high:,}"
            if self.labels_high is not None
            else f"{self.labels_low:,} or more"
        )
        text = (
            f"about {self.labels_left:,} more labels to reach {self.target:.2f} "
            f"({self.labels_needed:,} in all, {span})"
        )
        if self.hours_left is not None:
            text += f", {_duration(self.hours_left)} at the current pace"
        return text


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} minutes"
    if hours < 48:
        return f"{hours:.0f} hours"
    return f"{hours / 24:.0f} days"


def _count(value: float) -> int | None:
    return None if not math.isfinite(value) else int(math.ceil(value))


def forecast_labels(
    n_labels: Sequence[float],
    scores: Sequence[float],
    *,
    target: float,
    pace: float | None = None,
    level: float = 0.8,
    n_boot: int = 100,
    random_state: int | np.random.Generator | None = 0,
) -> Forecast:
    """Labels still needed to reach ``target``, with an interval and the time at ``pace``.

    Parameters
    ----------
    n_labels, scores : sequence of float
        The learning curve so far (see `fit_learning_curve`).
    target : float
        The score to reach, in ``(0, 1]``.
    pace : float, optional
        Labels per hour (`labelling_pace`); gives the time left.
    level, n_boot, random_state
        See `fit_learning_curve`.

    Returns
    -------
    Forecast

    Examples
    --------
    >>> n = [50, 100, 200, 300, 400]
    >>> f = forecast_labels(n, [0.7 - 2 * x ** -0.5 for x in n], target=0.9, n_boot=0)
    >>> f.reachable, f.sentence[:30]
    (False, 'target 0.90 is not reachable a')
    """
    target = _check_fraction(target, "target")
    if pace is not None:
        pace = _check_fraction(pace, "pace", high=math.inf)
    curve = fit_learning_curve(
        n_labels, scores, level=level, n_boot=n_boot, random_state=random_state
    )
    now = float(curve.n_labels.max())
    needed, low, high = curve.labels_for(target)
    reachable = math.isfinite(needed)
    labels_needed = _count(needed) if reachable else None
    hours = [None, None, None]
    if reachable and pace:
        hours = [
            max(0.0, v - now) / pace if math.isfinite(v) else None for v in (needed, low, high)
        ]
    return Forecast(
        n_labels=int(now),
        score=curve.predict(now),
        target=target,
        ceiling=curve.ceiling,
        reachable=reachable,
        labels_needed=labels_needed,
        labels_low=_count(low) if reachable else None,
        labels_high=_count(high) if reachable else None,
        labels_left=labels_needed - int(now) if labels_needed is not None else None,
        at_double=curve.predict_interval(2 * now),
        level=curve.level,
        pace=pace,
        hours_left=hours[0],
        hours_low=hours[1],
        hours_high=hours[2],
        curve=curve,
    )


def labelling_pace(
    timestamps: Sequence[dt.datetime], *, window_hours: float = 7 * 24
) -> float | None:
    """Rule 4: labels per hour over the recent window, or None with too few labels.

    Parameters
    ----------
    timestamps : sequence of datetime
        When each human label was given, timezone-aware.
    window_hours : float, default=168
        How far back from the newest label counts as recent.

    Examples
    --------
    >>> start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> labelling_pace([start + dt.timedelta(minutes=6 * i) for i in range(11)])
    10.0
    """
    window_hours = _check_fraction(window_hours, "window_hours", high=math.inf)
    moments = list(timestamps)
    for index, moment in enumerate(moments):
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
            raise ValidationError(
                f"timestamps.{index} must be a timezone-aware datetime, got {moment!r}",
                field=f"timestamps.{index}",
            )
    if not moments:
        return None
    newest = max(moments)
    recent = [m for m in moments if (newest - m).total_seconds() <= window_hours * 3600]
    if len(recent) < MIN_PACE_LABELS:
        return None
    span = max((newest - min(recent)).total_seconds() / 3600, 1.0)
    return round((len(recent) - 1) / span, 3)
