"""The forecast's rules: monotone fits, reachability, validation, intervals, pace, savings."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from labelloop.exceptions import ValidationError
from labelloop.forecast import (
    FAMILIES,
    FORECAST_FAMILIES,
    MIN_POINTS,
    RISING_FAMILIES,
    fit_learning_curve,
    forecast_labels,
    labelling_pace,
    random_curve_points,
    savings_against_random,
)

N = np.array([40, 80, 120, 160, 200, 240, 280, 320])


def _curve(seed: int, ceiling: float = 0.85, noise: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(ceiling - 1.6 * N**-0.5 + rng.normal(0, noise, len(N)), 0, 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_fits_a_curve_that_never_falls(seed: int, family: str) -> None:
    curve = fit_learning_curve(N, _curve(seed), families=[family], n_boot=0)
    grid = np.geomspace(1, 1e6, 200)
    predicted = np.array([curve.predict(n) for n in grid])
    assert np.all(np.diff(predicted) >= -1e-9)
    assert predicted[-1] <= curve.ceiling + 1e-9 <= 1.0 + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_averaged_curve_never_falls_and_its_weights_sum_to_one(seed: int) -> None:
    curve = fit_learning_curve(N, _curve(seed), n_boot=5, random_state=seed)
    predicted = np.array([curve.predict(n) for n in np.geomspace(1, 1e6, 200)])
    assert np.all(np.diff(predicted) >= -1e-9)
    assert sum(curve.weights.values()) == pytest.approx(1.0)


def test_a_target_above_the_fitted_ceiling_is_not_reachable() -> None:
    scores = _curve(0, ceiling=0.7, noise=0.0)
    curve = fit_learning_curve(N, scores, n_boot=0)
    assert curve.ceiling < 0.9
    forecast = forecast_labels(N, scores, target=0.9, n_boot=20)
    assert not forecast.reachable
    assert forecast.labels_needed is None and forecast.labels_left is None
    assert forecast.hours_left is None
    assert "not reachable at this rate" in forecast.sentence


def test_a_reachable_target_gives_labels_beyond_now_and_the_time_at_the_pace() -> None:
    scores = _curve(0, ceiling=0.9, noise=0.0)
    forecast = forecast_labels(N, scores, target=0.84, pace=20.0, n_boot=20)
    assert forecast.reachable
    assert forecast.labels_needed > N.max()
    assert forecast.labels_left == forecast.labels_needed - N.max()
    assert forecast.hours_left == pytest.approx((forecast.labels_needed - N.max()) / 20.0, rel=0.02)
    assert "more labels to reach 0.84" in forecast.sentence


def test_a_target_already_reached_needs_no_more_labels() -> None:
    forecast = forecast_labels(N, _curve(0), target=0.5, n_boot=10)
    assert forecast.reachable and forecast.labels_left == 0
    assert "reached" in forecast.sentence


@pytest.mark.parametrize("seed", range(4))
def test_every_interval_contains_its_point_estimate(seed: int) -> None:
    scores = _curve(seed, noise=0.03)
    curve = fit_learning_curve(N, scores, n_boot=30, random_state=seed)
    for n in (50, 320, 640, 5000):
        point, low, high = curve.predict_interval(n)
        assert low <= point <= high
    for target in (0.6, 0.78, 0.8, 0.84):
        point, low, high = curve.labels_for(target)
        assert low <= point <= high
    forecast = forecast_labels(N, scores, target=0.8, n_boot=30, random_state=seed)
    if forecast.reachable:
        assert forecast.labels_low <= forecast.labels_needed
        assert forecast.labels_high is None or forecast.labels_needed <= forecast.labels_high


LONG_N = np.arange(20, 420, 20, dtype=float)


def _levelled_zigzag() -> np.ndarray:
    """A curve that rose, then levelled off at 0.6 and zigzags there by 0.02."""
    rising = np.minimum(0.6, 0.4 + LONG_N / 500)
    return rising + np.where(np.arange(len(LONG_N)) % 2, 0.02, -0.02) * (LONG_N > 100)


def test_the_flat_family_is_a_curve_that_has_levelled_off() -> None:
    scores = _levelled_zigzag()
    curve = fit_learning_curve(LONG_N, scores, families=["flat"], n_boot=0)
    weights = (LONG_N / LONG_N.max()) ** 2
    level = float(np.average(scores, weights=weights))
    assert curve.ceiling == pytest.approx(level)
    assert curve.predict(10) == pytest.approx(curve.predict(1e6)) == pytest.approx(level)


def test_families_weigh_by_how_well_their_early_fit_extrapolated() -> None:
    # A curve that has levelled off: the flat family extrapolated its first half best.
    levelled = fit_learning_curve(LONG_N, _levelled_zigzag(), n_boot=0).weights
    assert max(levelled, key=levelled.get) == "flat"
    # A clean power law still rising: every rising family beats the flat one.
    rising = fit_learning_curve(LONG_N, 0.95 - 2 * LONG_N**-0.5, n_boot=0).weights
    assert all(rising[f] > rising["flat"] for f in FORECAST_FAMILIES if f != "flat")
    # Half of every weight is an equal share, whatever the extrapolation said.
    for weights in (levelled, rising):
        assert min(weights.values()) >= 0.5 / len(FORECAST_FAMILIES) - 1e-12
        assert sum(weights.values()) == pytest.approx(1.0)


def test_too_few_early_points_fall_back_to_akaike_weights() -> None:
    # Four points: only two in the first half, too few to fit and extrapolate.
    n, scores = [50, 100, 150, 200], [0.5, 0.6, 0.65, 0.67]
    curve = fit_learning_curve(n, scores, n_boot=0)
    assert sum(curve.weights.values()) == pytest.approx(1.0)
    assert min(curve.weights.values()) >= 0.5 / len(FORECAST_FAMILIES) - 1e-12


def test_the_interval_widens_by_the_curves_own_extrapolation_error() -> None:
    from labelloop.forecast._curves import _spread_and_shortfall

    clean = 0.9 - 2 * LONG_N**-0.5
    clean_error, _ = _spread_and_shortfall(LONG_N, clean, FAMILIES, 1.0)
    # The second half jumps 0.05 above where the first half was heading.
    stepped = clean + 0.05 * (LONG_N > 200)
    assert _spread_and_shortfall(LONG_N, stepped, FAMILIES, 1.0)[0] > clean_error + 0.04
    # A doubling that strays that far widens the interval at twice the labels.
    smooth = fit_learning_curve(LONG_N, clean, n_boot=200, random_state=0)
    jumpy = fit_learning_curve(LONG_N, stepped, n_boot=200, random_state=0)
    _, low, high = smooth.predict_interval(2 * LONG_N.max())
    _, jumpy_low, jumpy_high = jumpy.predict_interval(2 * LONG_N.max())
    assert jumpy_high - jumpy_low > 2 * (high - low)


def _without_lift(curve):
    """The same fit and draws with rule 5's upward term taken out."""
    return dataclasses.replace(curve, _lift=np.zeros_like(curve._lift))


def _risen_after_a_plateau() -> np.ndarray:
    """A curve that levelled off at 0.6 by 100 labels, then rose again by 0.06 after 240."""
    return np.minimum(0.6, 0.4 + LONG_N / 500) + 0.06 * np.clip((LONG_N - 240) / 160, 0, 1)


def test_a_curve_that_outran_its_early_fit_has_a_shortfall_and_one_that_fell_behind_none() -> None:
    from labelloop.forecast._curves import _spread_and_shortfall

    _, risen = _spread_and_shortfall(LONG_N, _risen_after_a_plateau(), FORECAST_FAMILIES, 1.0)
    assert risen > 0.02
    # Rising, then levelling off: the early fit overshot the later scores.
    levelled = np.minimum(0.3 + LONG_N / 400, 0.75)
    assert _spread_and_shortfall(LONG_N, levelled, FORECAST_FAMILIES, 1.0)[1] == 0.0
    curve = fit_learning_curve(LONG_N, levelled, n_boot=50, random_state=0)
    assert np.all(curve._lift == 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("maker", [_risen_after_a_plateau, _levelled_zigzag])
def test_the_upward_term_never_lowers_the_forecast(seed: int, maker) -> None:
    scores = np.clip(maker() + np.random.default_rng(seed).normal(0, 0.01, len(LONG_N)), 0, 1)
    curve = fit_learning_curve(LONG_N, scores, n_boot=50, random_state=seed)
    assert np.all(curve._lift >= 0.0)
    plain = _without_lift(curve)
    now = LONG_N.max()
    for n in (LONG_N[3], now, 1.3 * now, 2 * now, 10 * now):
        point, low, high = curve.predict_interval(n)
        plain_point, plain_low, plain_high = plain.predict_interval(n)
        assert point == plain_point  # the point estimate stays the fit
        assert low >= plain_low and high >= plain_high
        assert low <= point <= high
        if n <= now:  # the points seen get no lift
            assert (low, high) == (plain_low, plain_high)


def test_the_upward_term_grows_from_the_last_point_to_twice_it_and_stops_there() -> None:
    curve = fit_learning_curve(LONG_N, _risen_after_a_plateau(), n_boot=200, random_state=0)
    now = LONG_N.max()
    lifts = [
        curve.predict_interval(n)[2] - _without_lift(curve).predict_interval(n)[2]
        for n in (now, 1.4 * now, 2 * now)
    ]
    assert lifts[0] == 0.0 < lifts[1] < lifts[2]
    far = curve.predict_interval(8 * now)[2] - _without_lift(curve).predict_interval(8 * now)[2]
    assert far == pytest.approx(lifts[2], abs=0.01)


def test_a_shortfall_raises_the_interval_at_twice_the_labels_but_not_the_forecast() -> None:
    scores = _risen_after_a_plateau()
    forecast = forecast_labels(LONG_N, scores, target=0.99, n_boot=200, random_state=0)
    plain = _without_lift(forecast.curve).predict_interval(2 * LONG_N.max())
    assert forecast.at_double[0] == plain[0]
    assert forecast.at_double[2] > plain[2] + 0.01


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_labels": [10, 20, 30], "scores": [0.5, 0.6, 0.7]}, "n_labels"),
        ({"n_labels": [10, 20, 0, 40], "scores": [0.5, 0.6, 0.6, 0.7]}, "n_labels.2"),
        ({"n_labels": [10, 20, 30, 40], "scores": [0.5, 1.6, 0.6, 0.7]}, "scores.1"),
        ({"n_labels": [10, 20, 30, 40], "scores": [0.5, 0.6]}, "scores"),
        ({"n_labels": "abc", "scores": [0.5]}, "n_labels"),
        ({"level": 1.5}, "level"),
        ({"n_boot": -1}, "n_boot"),
        ({"families": ["cubic"]}, "families"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict, field: str) -> None:
    args = {"n_labels": list(N), "scores": list(_curve(0)), **kwargs}
    with pytest.raises(ValidationError) as error:
        fit_learning_curve(args.pop("n_labels"), args.pop("scores"), **args)
    assert error.value.field == field


@pytest.mark.parametrize(("target", "field"), [(0, "target"), (1.2, "target"), ("x", "target")])
def test_a_bad_target_is_refused_naming_it(target: object, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        forecast_labels(N, _curve(0), target=target)
    assert error.value.field == field


def test_a_curve_needs_min_points_distinct_counts() -> None:
    counts = [10] * 5 + [20, 30]
    assert len(set(counts)) < MIN_POINTS
    with pytest.raises(ValidationError, match="label counts"):
        fit_learning_curve(counts, [0.5] * 7)


def test_the_pace_is_labels_per_hour_over_the_recent_window() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    old = [start - dt.timedelta(days=30)]
    recent = [start + dt.timedelta(minutes=3 * i) for i in range(41)]
    assert labelling_pace(old + recent) == pytest.approx(20.0)
    assert labelling_pace(recent[:3]) is None
    assert labelling_pace([]) is None
    burst = [start + dt.timedelta(seconds=i) for i in range(10)]
    assert labelling_pace(burst) == pytest.approx(9.0)  # the span counts as one hour at least


def test_a_naive_timestamp_is_refused_naming_its_position() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValidationError) as error:
        labelling_pace([start, dt.datetime(2026, 1, 1)])
    assert error.value.field == "timestamps.1"


def test_savings_read_the_random_curve_at_the_project_score() -> None:
    n = [20, 40, 80, 160, 240]
    scores = [0.9 - 2 * x**-0.5 for x in n]
    savings = savings_against_random(n, scores, n_labels=100, score=0.8, n_boot=50)
    # The curve's truth: 0.9 - 2 / sqrt(400) = 0.8.
    assert savings.random_low <= 400 <= (savings.random_high or np.inf)
    assert savings.labels_saved == savings.random_labels - 100
    assert savings.random_low <= savings.random_labels
    assert savings.random_high is None or savings.random_labels <= savings.random_high
    assert "random sampling would have needed about" in savings.sentence


def test_savings_say_so_when_random_sampling_never_reaches_the_score() -> None:
    n = [20, 40, 80, 160, 240]
    scores = [0.7 - 1 * x**-0.5 for x in n]
    savings = savings_against_random(n, scores, n_labels=100, score=0.9, n_boot=10)
    assert savings.random_labels is None and savings.labels_saved is None
    assert "does not reach it" in savings.sentence


def test_savings_fit_random_sampling_with_the_rising_families_only() -> None:
    # Random's short traced curve (rule 1's sizes on 300 items) whose last two sizes
    # scatter level: the flat family would read that as a ceiling.
    n, scores = [10, 21, 46, 98, 210], [0.50, 0.62, 0.70, 0.75, 0.745]
    savings = savings_against_random(n, scores, n_labels=200, score=0.76, n_boot=20)
    assert tuple(savings.curve.weights) == RISING_FAMILIES
    assert "flat" in FAMILIES and "flat" not in RISING_FAMILIES
    rising = fit_learning_curve(n, scores, families=RISING_FAMILIES, n_boot=20)
    point, low, high = rising.labels_for(0.76, start=1.0)
    assert savings.random_low == int(np.ceil(low))
    assert savings.random_labels == (int(np.ceil(point)) if np.isfinite(point) else None)
    assert savings.random_high == (int(np.ceil(high)) if np.isfinite(high) else None)
    # The forecast of the project's own curve keeps the flat family and leaves out exp3.
    forecast = forecast_labels(n, scores, target=0.9, n_boot=0)
    assert tuple(forecast.curve.weights) == FORECAST_FAMILIES


def test_the_forecast_families_level_off_no_sooner_than_a_power_law_or_a_hyperbola() -> None:
    # exp3 is the family that reads a plateau in the middle of a curve as its ceiling.
    assert "exp3" in FAMILIES and "exp3" not in FORECAST_FAMILIES
    assert "flat" in FORECAST_FAMILIES and set(FORECAST_FAMILIES) <= set(FAMILIES)
    assert tuple(fit_learning_curve(N, _curve(0), n_boot=0).weights) == FORECAST_FAMILIES


def test_random_curve_points_trace_a_rising_curve_on_a_random_sample() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    n, scores = random_curve_points(
        LogisticRegression(),
        X,
        y,
        score=lambda t, p: f1_score(t, p, average="macro"),
        repeats=3,
    )
    assert len(n) == 5 and n[0] == 10 and n[-1] == 210
    assert np.all((scores >= 0) & (scores <= 1))
    assert scores[-1] > scores[0]


def test_random_curve_points_give_a_column_per_score_from_the_same_fits() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)

    def both(t: np.ndarray, p: np.ndarray) -> tuple[float, float]:
        return f1_score(t, p, average="macro"), float(np.mean(t == p))

    n, scores = random_curve_points(LogisticRegression(), X, y, score=both, random_state=4)
    _, first = random_curve_points(
        LogisticRegression(), X, y, score=lambda t, p: f1_score(t, p, average="macro"),
        random_state=4,
    )  # fmt: skip
    assert scores.shape == (len(n), 2)
    np.testing.assert_allclose(scores[:, 0], first)


def test_random_curve_points_refuse_a_size_that_leaves_nothing_to_score() -> None:
    X, y = np.zeros((20, 2)), np.array([0, 1] * 10)
    with pytest.raises(ValidationError) as error:
        random_curve_points(LogisticRegression(), X, y, score=lambda t, p: 0.0, sizes=[5, 20])
    assert error.value.field == "sizes.1"
