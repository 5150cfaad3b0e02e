"""Stream decisions: the hard budget at every moment, no bursts, the threshold, exploration."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.exceptions import ValidationError
from labelloop.strategies.stream import BudgetedStream, StreamPolicy, StreamState, decide


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), min_size=1, max_size=400),
    budget=st.floats(0, 1),
    explore=st.floats(0, 0.99),
    window=st.integers(1, 200),
)
def test_the_budget_holds_at_every_moment_and_in_every_window(scores, budget, explore, window):
    stream = BudgetedStream(StreamPolicy(budget=budget, explore=explore, window=window))
    asked_at = []
    for t, score in enumerate(scores, start=1):
        if stream.offer(score).ask:
            asked_at.append(t)
        assert len(asked_at) <= math.floor(budget * t + 1e-9) + 1
    burst = math.floor(budget * window) + 1
    for t in range(1, len(scores) + 1):
        assert sum(1 for a in asked_at if t - window < a <= t) <= burst


def test_a_rate_budget_counts_hours_since_the_first_arrival():
    stream = BudgetedStream(StreamPolicy(labels_per_hour=2, explore=0.0))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    asked = [stream.offer(0.99, now=start + dt.timedelta(minutes=m)).ask for m in range(0, 90)]
    # 0 h: 1 allowed; from 30 min: 2; from 60 min: 3.
    assert sum(asked[:30]) == 1 and sum(asked[:60]) == 2 and sum(asked) == 3


def test_the_threshold_rises_after_an_ask_and_falls_after_a_pass():
    policy = StreamPolicy(budget=1.0, explore=0.0, step=0.1, initial_threshold=0.5)
    asked = decide(0.9, StreamState(), policy)
    assert asked.ask and asked.threshold == pytest.approx(0.55)
    passed = decide(0.1, asked.state, policy)
    assert not passed.ask and passed.threshold == pytest.approx(0.495)
    assert "unsure" in asked.reason and "sure enough" in passed.reason


def test_a_spent_budget_neither_asks_nor_moves_the_threshold():
    policy = StreamPolicy(budget=0.0, explore=0.0)
    first = decide(0.9, StreamState(), policy)  # the one ask floor(0 * t) + 1 allows
    second = decide(0.9, first.state, policy)
    assert first.ask and not second.ask
    assert second.threshold == first.threshold and "budget spent" in second.reason


def test_exploration_is_seeded_by_arrival_and_leaves_the_threshold_alone():
    policy = StreamPolicy(budget=1.0, explore=0.5, seed=3)
    runs = []
    for _ in range(2):
        stream = BudgetedStream(policy)
        runs.append([stream.offer(0.0).reason for _ in range(50)])
    assert runs[0] == runs[1]
    explored = [r for r in runs[0] if r.startswith("exploration")]
    assert 10 < len(explored) < 40


def test_without_a_model_the_cold_start_asks_while_the_budget_allows():
    stream = BudgetedStream(StreamPolicy(budget=0.5, explore=0.0))
    decisions = [stream.offer(None) for _ in range(10)]
    assert sum(d.ask for d in decisions) == 6  # floor(0.5 * 10) + 1
    assert decisions[0].reason == "no model yet: asked to start one"


def test_a_forced_ask_still_respects_the_budget():
    policy = StreamPolicy(budget=0.0, explore=0.0)
    first = decide(0.0, StreamState(), policy, forced="evaluation set")
    second = decide(0.0, first.state, policy, forced="evaluation set")
    assert (first.ask, first.reason) == (True, "evaluation set")
    assert not second.ask


def test_state_round_trips_through_json():
    stream = BudgetedStream(StreamPolicy(budget=0.3))
    for score in np.linspace(0, 1, 25):
        stream.offer(float(score))
    again = StreamState.from_dict(stream.state.to_dict())
    assert again == stream.state


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"budget": 1.5}, "budget"),
        ({"budget": float("nan")}, "budget"),
        ({"explore": 1.0}, "explore"),
        ({"step": -0.1}, "step"),
        ({"window": 0}, "window"),
        ({"labels_per_hour": 0}, "labels_per_hour"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_policies_name_the_option(options, field):
    with pytest.raises(ValidationError) as caught:
        StreamPolicy(**options)
    assert caught.value.field == field


def test_a_bad_score_names_it():
    with pytest.raises(ValidationError) as caught:
        decide(float("inf"), StreamState(), StreamPolicy())
    assert caught.value.field == "informativeness"
