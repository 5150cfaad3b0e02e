"""Evaluation metrics carry their n and a 95% Wilson interval around the accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.models.builtin import build_model, label_metrics, wilson_interval


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # Published values of the Wilson score interval at 95%.
        (0, 3, (0.0, 0.5615)),
        (8, 10, (0.4902, 0.9433)),
        (3, 3, (0.4385, 1.0)),
        (50, 100, (0.4038, 0.5962)),
    ],
)
def test_wilson_interval_matches_known_values(successes, n, expected):
    low, high = wilson_interval(successes, n)
    assert (round(low, 4), round(high, 4)) == expected


def test_a_wider_confidence_gives_a_wider_interval():
    low95, high95 = wilson_interval(7, 20)
    low99, high99 = wilson_interval(7, 20, confidence=0.99)
    assert low99 < low95 < 7 / 20 < high95 < high99


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"successes": 1, "n": 0}, "n"),
        ({"successes": 4, "n": 3}, "successes"),
        ({"successes": 1.5, "n": 3}, "successes"),
        ({"successes": 1, "n": 3, "confidence": 1.0}, "confidence"),
    ],
)
def test_wilson_interval_refuses_bad_input_naming_it(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        wilson_interval(**kwargs)
    assert caught.value.field == field


def test_label_metrics_give_n_and_the_accuracy_interval():
    model = build_model("classification", labels=["pos", "neg"], multi_label=False)
    y_true = np.array(["pos", "pos", "neg", "neg", "pos"])
    y_pred = np.array(["pos", "neg", "neg", "neg", "pos"])
    metrics = label_metrics(model, y_true, y_pred)
    assert metrics["n"] == 5 and metrics["accuracy"] == 0.8
    assert metrics["accuracy_ci"] == [round(b, 6) for b in wilson_interval(4, 5)]
