"""Rounds of the loop, the project's status, and background jobs.

A job is answered as the engine's `JobInfo`. Rounds and the status keep their own models:
a round's metrics leave out the strategy's state, which the engine carries to the next
round and the API does not show.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from labelloop.engine.jobs import JobInfo

__all__ = [
    "AutoLabelPublic",
    "AutoLabelStatusPublic",
    "ForecastPublic",
    "JobInfo",
    "RoundPublic",
    "SavingsPublic",
    "SpotChecksPublic",
    "StatusPublic",
    "WorthPublic",
]


class RoundPublic(BaseModel):
    """One turn of the loop: data trained on, model produced, batch picked, metrics."""

    number: int
    strategy: str
    dataset_version: int | None
    model_version: int | None
    n_labels: int
    batch: list[str]
    metrics: dict[str, Any]
    created_at: dt.datetime

    @field_validator("metrics")
    @classmethod
    def _public_metrics(cls, metrics: dict[str, Any]) -> dict[str, Any]:
        # The strategy's state (auto's bandit) is the engine's, carried to the next round.
        return {key: value for key, value in metrics.items() if key != "strategy_state"}


class SpotChecksPublic(BaseModel):
    """The spot checks of auto-labels: sent, decided by people, confirmed; the interval."""

    sent: int
    checked: int
    correct: int
    precision: float | None
    low: float
    high: float


class AutoLabelStatusPublic(BaseModel):
    """Auto-labelling: on or off, paused and why, the certified threshold, spot checks."""

    enabled: bool
    paused: bool
    pause_reason: str | None
    n_auto_labelled: int
    target_precision: float
    risk: float
    threshold: float | None
    bound: float | None
    thresholds: dict[str, float | None] | None = None
    labels_needed: int | None
    spot_checks: SpotChecksPublic
    note: str


class AutoLabelPublic(BaseModel):
    """One auto-label, with what certified it and, for a decided spot check, people's label."""

    external_id: str
    label: Any
    model_version: int | None
    round: int
    confidence: float
    threshold: float
    bound: float
    spot_check: bool
    people_label: Any
    standing: bool
    created_at: dt.datetime


class StatusPublic(BaseModel):
    """Where the project stands and whether labelling still pays off, in words."""

    project: str
    n_items: int
    n_labelled: int
    n_open: int
    n_in_review: int
    n_eval: int
    n_eval_labelled: int
    rounds: list[RoundPublic]
    should_stop: bool
    verdict: str
    # The verdict in plain words first ("keep labelling: the model is still changing"),
    # and the criteria's statistics for a details line.
    headline: str = ""
    details: str = ""
    reasons: list[str]
    # The evaluation labels the metrics and the verdict need, and the words shown until
    # they are there ("not enough evaluation labels yet (n of N)"), else None.
    eval_needed: int
    eval_note: str | None
    # Items whose standing label is an auto-label (counted in n_labelled too), and the
    # state of auto-labelling.
    n_auto_labelled: int = 0
    auto_label: AutoLabelStatusPublic | None = None
    # Labelled items per class (single-label), and the classes rare among them: fewer
    # than half of an even split, or none (what the rare_classes setting expands).
    label_counts: dict[str, int] = {}
    rare_labels: list[str] = []
    # A box project's boxes in its final labels (its label_counts are boxes per class);
    # None for other task types.
    n_boxes_labelled: int | None = None
    # An entity project's cost in tokens: {labelled, pool, budget}; None for other projects.
    tokens: dict[str, int | None] | None = None


class ForecastPublic(BaseModel):
    """Labels still needed to reach the target score, with an interval and the time left."""

    model_config = ConfigDict(from_attributes=True)

    n_labels: int
    score: float
    target: float
    ceiling: float
    # False: "not reachable at this rate" (the fitted ceiling is below the target).
    reachable: bool
    labels_needed: int | None
    labels_low: int | None
    labels_high: int | None
    labels_left: int | None
    # (score, low, high) predicted at twice the labels.
    at_double: tuple[float, float, float]
    level: float
    pace: float | None
    hours_left: float | None
    hours_low: float | None
    hours_high: float | None
    sentence: str


class SavingsPublic(BaseModel):
    """Labels random sampling would have needed to reach the project's score."""

    model_config = ConfigDict(from_attributes=True)

    n_labels: int
    score: float
    random_labels: int | None
    random_low: int | None
    random_high: int | None
    labels_saved: int | None
    level: float
    metric: str
    sentence: str


class WorthPublic(BaseModel):
    """What labelling is worth, and what is left: the savings and the forecast."""

    model_config = ConfigDict(from_attributes=True)

    metric: str
    target: float | None
    # The learning curve fitted: (labels, score) per round.
    curve: list[tuple[int, float]]
    forecast: ForecastPublic | None
    at_double: tuple[float, float, float] | None
    # (labels, score, low, high) from now to twice the labels.
    band: list[tuple[int, float, float, float]]
    savings: SavingsPublic | None
    pace: float | None
    notes: list[str]
    sentences: list[str]
