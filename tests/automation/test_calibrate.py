"""calibrate_threshold's rules: the bound, the walk, None on too few labels, checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.automation import (
    calibrate,
    calibrate_class_thresholds,
    calibrate_threshold,
    first_tested,
    labels_to_certify,
    precision_interval,
    precision_lower_bound,
    threshold_grid,
)
from labelloop.exceptions import ValidationError


def _calibrated_sample(n: int, seed: int, *, n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose top class is right as often as they say."""
    rng = np.random.default_rng(seed)
    top = rng.uniform(1.0 / n_classes, 1.0, n)
    rest = (1.0 - top) / (n_classes - 1)
    predicted = rng.integers(0, n_classes, n)
    proba = np.repeat(rest[:, None], n_classes, axis=1)
    proba[np.arange(n), predicted] = top
    wrong = (predicted + rng.integers(1, n_classes, n)) % n_classes
    labels = np.where(rng.uniform(size=n) < top, predicted, wrong)
    return proba, labels


def test_too_few_labels_certify_nothing_and_say_how_many_would():
    proba, labels = _calibrated_sample(40, 0)
    assert calibrate_threshold(proba, labels) is None
    needed = labels_to_certify(proba, labels)
    assert needed is not None and needed > 0


def test_an_empty_sample_needs_the_first_tested_count():
    empty = np.zeros((0, 3))
    assert calibrate_threshold(empty, np.zeros(0, dtype=int)) is None
    assert labels_to_certify(empty, np.zeros(0, dtype=int)) == first_tested(0.95, 0.05)


def test_the_walk_starts_where_one_error_is_tolerated():
    n = first_tested(0.95, 0.05)
    assert n > math.ceil(math.log(0.05) / math.log(0.95))  # more than all-correct needs
    assert precision_lower_bound(n - 1, n) >= 0.95 > precision_lower_bound(n - 2, n - 1)
    proba = np.tile([0.999, 0.001], (n, 1))
    labels = np.zeros(n, dtype=int)
    labels[0] = 1  # one error at the very top does not end the walk
    assert calibrate_threshold(proba, labels) is not None
    assert calibrate_threshold(proba[1:], labels[1:]) is None  # too few to be tested
    assert labels_to_certify(proba[1:], labels[1:]) == 1


def test_the_certified_region_reaches_the_target_by_its_bound():
    proba, labels = _calibrated_sample(5000, 1)
    result = calibrate(proba, labels)
    assert result.threshold is not None
    selected = proba.max(axis=1) >= result.threshold
    assert result.n_selected == int(selected.sum())
    hits = int((proba[selected].argmax(axis=1) == labels[selected]).sum())
    assert result.precision == pytest.approx(hits / result.n_selected)
    # The walk that certified it spent at most the whole risk, so its bound is no higher.
    assert 0.95 <= result.lower_bound <= precision_lower_bound(hits, result.n_selected) + 1e-12
    assert result.labels_needed == 0
    assert result.threshold in threshold_grid(2)


def test_a_model_never_precise_enough_cannot_be_helped_by_more_labels():
    rng = np.random.default_rng(2)
    proba = np.tile([0.99, 0.01], (500, 1))
    labels = (rng.uniform(size=500) < 0.3).astype(int)  # right 70% of the time
    assert calibrate_threshold(proba, labels) is None
    assert labels_to_certify(proba, labels) is None


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 3000),
    targets=st.tuples(st.floats(0.6, 0.99), st.floats(0.6, 0.99)).map(sorted),
    risks=st.tuples(st.floats(0.01, 0.3), st.floats(0.01, 0.3)).map(sorted),
)
def test_stricter_asks_never_lower_the_threshold(seed, n, targets, risks):
    from labelloop.automation._threshold import _counts, _starts, _walk

    proba, labels = _calibrated_sample(n, seed, n_classes=3)
    loose, strict = targets
    small_risk, large_risk = risks

    def higher_or_none(strict_t, loose_t):
        return strict_t is None or (loose_t is not None and strict_t >= loose_t)

    # Walk for walk (one start, rules 2-4): a stricter target or a smaller risk stops
    # no later, so it never certifies a lower threshold.
    k, n_at = _counts(proba.max(axis=1), proba.argmax(axis=1) == labels, threshold_grid(3))
    for start in (1, 50, 400):
        for (t1, r1), (t2, r2) in (
            ((strict, 0.05), (loose, 0.05)),
            ((0.9, small_risk), (0.9, large_risk)),
        ):
            one, two = _walk(k, n_at, start, t1, r1), _walk(k, n_at, start, t2, r2)
            assert one is None or (two is not None and one <= two)
    # Whole answers, where both asks plan the same walks (rule 3: the plan depends on the
    # ask, and a different plan may, rarely, end a little lower; each holds at its level).
    for (t1, r1), (t2, r2) in (
        ((strict, 0.05), (loose, 0.05)),
        ((0.9, small_risk), (0.9, large_risk)),
    ):
        if _starts(n, t1, r1)[0] == _starts(n, t2, r2)[0]:
            assert higher_or_none(
                calibrate_threshold(proba, labels, target_precision=t1, risk=r1),
                calibrate_threshold(proba, labels, target_precision=t2, risk=r2),
            )


def test_more_labels_of_the_same_kind_certify_at_least_as_much():
    proba, labels = _calibrated_sample(20_000, 3)
    thresholds = [calibrate_threshold(proba[:n], labels[:n]) for n in (50, 20_000)]
    assert thresholds[0] is None and thresholds[1] is not None


def test_per_class_thresholds_hold_each_class_on_its_own_predictions():
    proba, labels = _calibrated_sample(6000, 4, n_classes=3)
    proba[:, 2] = np.minimum(proba[:, 2], 0.4)  # class 2 is never predicted confidently
    proba /= proba.sum(axis=1, keepdims=True)
    thresholds = calibrate_class_thresholds(proba, labels)
    assert len(thresholds) == 3
    predicted = proba.argmax(axis=1)
    for c, threshold in enumerate(thresholds):
        if threshold is None:
            continue
        chosen = (predicted == c) & (proba.max(axis=1) >= threshold)
        hits = int((labels[chosen] == c).sum())
        assert precision_lower_bound(hits, int(chosen.sum()), risk=0.05 / 3) >= 0.95


def test_the_interval_holds_the_measured_share():
    low, high = precision_interval(45, 50, risk=0.05)
    assert low < 0.9 < high
    assert precision_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"proba": [[0.5, 0.5]], "labels": [0], "target_precision": 1.0}, "target_precision"),
        ({"proba": [[0.5, 0.5]], "labels": [0], "target_precision": "high"}, "target_precision"),
        ({"proba": [[0.5, 0.5]], "labels": [0], "risk": 0}, "risk"),
        ({"proba": [[0.5, 0.5]], "labels": [0], "risk": True}, "risk"),
        ({"proba": [[0.7, 0.7]], "labels": [0]}, "proba"),
        ({"proba": [0.5, 0.5], "labels": [0]}, "proba"),
        ({"proba": [[0.5, 0.5]], "labels": [0, 1]}, "labels"),
        ({"proba": [[0.5, 0.5]], "labels": [0.0]}, "labels"),
        ({"proba": [[0.5, 0.5], [0.2, 0.8]], "labels": [0, 2]}, "labels.1"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, field):
    proba = kwargs.pop("proba")
    labels = kwargs.pop("labels")
    for function in (calibrate_threshold, labels_to_certify, calibrate_class_thresholds):
        with pytest.raises(ValidationError) as error:
            function(proba, labels, **kwargs)
        assert error.value.field == field


@pytest.mark.parametrize(("k", "n", "field"), [(-1, 3, "k"), (4, 3, "k"), (1, 2.5, "n")])
def test_bound_counts_are_checked(k, n, field):
    with pytest.raises(ValidationError) as error:
        precision_lower_bound(k, n)
    assert error.value.field == field


def test_noise_among_the_most_confident_does_not_end_every_walk():
    rng = np.random.default_rng(5)
    n = 4000
    top = np.sort(rng.uniform(0.9, 1.0, n))[::-1]
    proba = np.column_stack([top, 1 - top])
    labels = np.zeros(n, dtype=int)
    labels[:3] = 1  # three errors among the first items a walk from the top would test
    labels[rng.choice(np.arange(3, n), 40, replace=False)] = 1  # 99% right elsewhere
    result = calibrate(proba, labels)
    assert result.threshold is not None and result.n_selected > n // 2
