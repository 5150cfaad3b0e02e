"""Learning-curve forecasts: what labelling is worth, and what is left.

`fit_learning_curve` fits a few saturating curve families to (labels, score) points,
weighted towards the later ones, averages them and bootstraps an interval;
`forecast_labels` reads from it the labels still needed to reach a target score ("not
reachable at this rate" when the fitted ceiling is below it), and the time left at the
team's pace (`labelling_pace`). `random_curve_points` traces random sampling's curve on
a random sample (a project's evaluation set) and `savings_against_random` reads from it
the labels random sampling would have needed to reach the project's score.

Where the rules live: ``_curves`` (families, weights, averaging, bootstrap),
``_forecast`` (validation, the forecast, the pace), ``_savings`` (random sampling's
curve and the labels saved).
"""

from __future__ import annotations

from labelloop.forecast._curves import (
    FAMILIES,
    FORECAST_FAMILIES,
    RISING_FAMILIES,
    LearningCurve,
)
from labelloop.forecast._forecast import (
    MAX_LABELS,
    MIN_PACE_LABELS,
    MIN_POINTS,
    Forecast,
    fit_learning_curve,
    forecast_labels,
    labelling_pace,
)
from labelloop.forecast._savings import Savings, random_curve_points, savings_against_random

__all__ = [
    "FAMILIES",
    "FORECAST_FAMILIES",
    "MAX_LABELS",
    "MIN_PACE_LABELS",
    "MIN_POINTS",
    "RISING_FAMILIES",
    "Forecast",
    "LearningCurve",
    "Savings",
    "fit_learning_curve",
    "forecast_labels",
    "labelling_pace",
    "random_curve_points",
    "savings_against_random",
]
