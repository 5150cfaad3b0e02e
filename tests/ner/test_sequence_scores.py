"""Sentence informativeness from a sequence model, and picks under a token budget."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.strategies import sequence
from labelloop.strategies.sequence import (
    mnlp,
    random_within_budget,
    sequence_least_confidence,
    token_entropy,
    top_within_budget,
)


def test_mnlp_normalises_by_length_where_least_confidence_does_not() -> None:
    # Two sentences whose tokens are each 90% sure: the longer one's sequence is less likely.
    log_proba = np.log([0.9**2, 0.9**10])
    assert sequence_least_confidence(log_proba)[1] > sequence_least_confidence(log_proba)[0]
    np.testing.assert_allclose(mnlp(log_proba, [2, 10]), -np.log(0.9))


def test_token_entropy_aggregates_per_sentence() -> None:
    sure, unsure = [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]
    marginals = np.array([sure, unsure, sure, sure, sure])
    lengths = [2, 3]
    np.testing.assert_allclose(token_entropy(marginals, lengths, aggregate="sum"), [np.log(3), 0])
    np.testing.assert_allclose(token_entropy(marginals, lengths), [np.log(3) / 2, 0])
    np.testing.assert_allclose(token_entropy(marginals, lengths, aggregate="max"), [np.log(3), 0])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: mnlp([0.5], [1]), "log_proba"),
        (lambda: mnlp([-1.0], [0]), "lengths"),
        (lambda: mnlp([-1.0, -2.0], [1]), "lengths"),
        (lambda: mnlp([-1.0], [1.5]), "lengths"),
        (lambda: token_entropy([[1.0, 0.0]], [2]), "lengths"),
        (lambda: token_entropy([[0.7, 0.7]], [1]), "marginals"),
        (lambda: token_entropy([[1.0, 0.0]], [1], aggregate="median"), "aggregate"),
        (lambda: top_within_budget([1.0], [1, 2], budget=3), "costs"),
        (lambda: top_within_budget([1.0], [-1], budget=3), "costs"),
        (lambda: top_within_budget([1.0], [1], budget=0), "budget"),
        (lambda: random_within_budget([1], budget="5"), "budget"),
    ],
)
def test_bad_arguments_are_named(call, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        call()
    assert raised.value.field == field


def test_top_within_budget_skips_what_overruns_and_keeps_filling() -> None:
    picked = top_within_budget([0.9, 0.8, 0.7, 0.1], [4, 7, 3, 1], budget=8)
    assert picked.tolist() == [0, 2, 3]


def test_budget_picks_never_exceed_the_budget(seed: int) -> None:
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 30, size=200)
    for picked in (
        top_within_budget(rng.random(200), costs, budget=500, random_state=seed),
        random_within_budget(costs, budget=500, random_state=seed),
    ):
        assert costs[picked].sum() <= 500
        assert len(set(picked.tolist())) == picked.size
        # Filled as far as the pool allows: nothing left out would still fit.
        left = np.setdiff1d(np.arange(200), picked)
        assert costs[picked].sum() + costs[left].min() > 500


def test_random_within_budget_is_reproducible() -> None:
    costs = np.arange(1, 50)
    a = random_within_budget(costs, budget=100, random_state=3)
    assert np.array_equal(a, random_within_budget(costs, budget=100, random_state=3))


def test_docstring_examples_run() -> None:
    result = doctest.testmod(sequence)
    assert result.attempted > 0
    assert result.failed == 0
