"""Scores against hand-computed values, their validation, and the stopping criteria."""

from __future__ import annotations

import doctest
import importlib
import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from labelloop import strategies
from labelloop.exceptions import ValidationError
from labelloop.strategies import stopping

PROBA = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
EXPECTED = {
    "least_confidence": [0.3, 0.6, 0.0, 2 / 3],
    "margin": [0.5, 1.0, 0.0, 1.0],
    "ratio": [2 / 7, 1.0, 0.0, 1.0],
    "entropy": [0.801819, 1.054920, 0.0, math.log(3)],
}
COMMITTEE = np.array([[[0.5, 0.5], [0.9, 0.1]], [[1.0, 0.0], [0.2, 0.8]]])
SCORES = [strategies.least_confidence, strategies.margin, strategies.entropy, strategies.ratio]
COMMITTEE_SCORES = [strategies.vote_entropy, strategies.kl_disagreement, strategies.bald]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_score_by_hand(name: str) -> None:
    score = getattr(strategies, name)
    np.testing.assert_allclose(score(PROBA), EXPECTED[name], atol=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_float32_stays_float32(name: str) -> None:
    scores = getattr(strategies, name)(PROBA.astype(np.float32))
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, EXPECTED[name], atol=1e-5)


def test_margin_on_two_classes() -> None:
    np.testing.assert_allclose(strategies.margin([[0.8, 0.2], [0.45, 0.55]]), [0.4, 0.9])


def test_committee_by_hand() -> None:
    # Sample 0: members say [.5,.5] and [1,0]; consensus [.75,.25].
    kl = 0.5 * (0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)) + 0.5 * math.log(1 / 0.75)
    # Sample 1: consensus [.55,.45]; both members confident, opposite votes.
    kl1 = 0.5 * (0.9 * math.log(0.9 / 0.55) + 0.1 * math.log(0.1 / 0.45)) + 0.5 * (
        0.2 * math.log(0.2 / 0.55) + 0.8 * math.log(0.8 / 0.45)
    )
    np.testing.assert_allclose(strategies.kl_disagreement(COMMITTEE), [kl, kl1], atol=1e-9)
    # Mean KL to the consensus equals the mutual information (BALD).
    np.testing.assert_allclose(strategies.bald(COMMITTEE), [kl, kl1], atol=1e-9)
    np.testing.assert_allclose(strategies.vote_entropy(COMMITTEE), [0.0, math.log(2)])


def test_committee_in_agreement_scores_zero() -> None:
    same = np.stack([PROBA, PROBA, PROBA])
    for score in COMMITTEE_SCORES:
        np.testing.assert_allclose(score(same), 0.0, atol=1e-12)


def test_multilabel_scores_each_label_as_two_classes() -> None:
    proba = [[0.5, 1.0], [0.9, 0.9]]
    np.testing.assert_allclose(strategies.margin(proba, multilabel=True), [0.5, 0.2])
    np.testing.assert_allclose(
        strategies.multilabel_uncertainty(proba, aggregate="max"), [1.0, 0.2]
    )
    np.testing.assert_allclose(
        strategies.multilabel_uncertainty(proba, method="least_confidence"), [0.25, 0.1]
    )
    np.testing.assert_allclose(
        strategies.entropy([[0.5]], multilabel=True), [math.log(2)], atol=1e-12
    )


@pytest.mark.parametrize("option", [{"method": "bogus"}, {"aggregate": "median"}])
def test_multilabel_bad_option_named(option: dict) -> None:
    with pytest.raises(ValidationError) as raised:
        strategies.multilabel_uncertainty([[0.5]], **option)
    assert raised.value.field == next(iter(option))


BAD_PROBA = [
    pytest.param([[0.5, np.nan]], "NaN", id="nan"),
    pytest.param([[np.inf, 0.0]], "NaN or infinite", id="inf"),
    pytest.param([0.5, 0.5], "2-D", id="1d"),
    pytest.param(np.zeros((0, 3)), "empty", id="empty"),
    pytest.param([[0.5, 0.6]], "sum to 1", id="not-normalised"),
    pytest.param([[1.5, -0.5]], r"\[0, 1\]", id="out-of-range"),
    pytest.param([[1.0]], "at least 2", id="one-class"),
    pytest.param([["a", "b"]], "numeric", id="strings"),
]


@pytest.mark.parametrize("score", SCORES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("bad", "message"), BAD_PROBA)
def test_bad_proba_named(score, bad, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        score(bad)
    assert raised.value.field == "proba"


@pytest.mark.parametrize("score", COMMITTEE_SCORES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "bad",
    [PROBA, np.zeros((2, 0, 3)), np.zeros((0, 2, 3)), COMMITTEE * 2, COMMITTEE * np.nan],
    ids=["2d", "no-samples", "no-members", "not-normalised", "nan"],
)
def test_bad_committee_named(score, bad) -> None:
    with pytest.raises(ValidationError) as raised:
        score(bad)
    assert raised.value.field == "proba"


def test_large_pool_scored_in_blocks_matches_one_block() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), size=150_000)
    top = np.sort(proba, axis=1)
    np.testing.assert_allclose(strategies.margin(proba), 1 - (top[:, -1] - top[:, -2]))


def test_public_names_are_honest() -> None:
    for name in strategies.__all__:
        value = getattr(strategies, name)
        assert not name.startswith("_")
        assert value.__doc__, name
    assert set(stopping.__all__) <= set(dir(stopping))


def test_strategies_import_only_numpy_and_scipy() -> None:
    code = (
        "import sys, labelloop.strategies; "
        "bad = [m for m in ('sklearn', 'labelloop.store', 'labelloop.server', 'labelloop.cli') "
        "if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kappa_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 4, 200))
    assert stopping.kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert stopping.kappa(["x", "y", "y"], ["x", "y", "y"]) == 1.0
    assert stopping.kappa([1, 1, 1], [1, 1, 1]) == 1.0


def test_kappa_length_mismatch_named() -> None:
    with pytest.raises(ValidationError) as raised:
        stopping.kappa([1, 2], [1])
    assert raised.value.field == "b"


def test_stabilizing_predictions() -> None:
    decision = stopping.stabilizing_predictions([0, 1, 1, 0], [0, 1, 1, 0])
    assert decision.stop and decision.value == 1.0
    assert "stabilised" in decision.reason
    moving = stopping.stabilizing_predictions([0, 1, 1, 0], [0, 1, 0, 1], threshold=0.9)
    assert not moving.stop and "still changing" in moving.reason
    with pytest.raises(ValidationError) as raised:
        stopping.stabilizing_predictions([0], [0], threshold=2)
    assert raised.value.field == "threshold"
    with pytest.raises(ValidationError) as raised:
        stopping.stabilizing_predictions([0, 1], [0])
    assert raised.value.field == "curr_pred"


def test_uncertainty_criteria() -> None:
    assert stopping.max_uncertainty_below([0.05, 0.1], 0.2).stop
    assert not stopping.max_uncertainty_below([0.05, 0.3], 0.2).stop
    overall = stopping.overall_uncertainty_below([0.1, 0.5], 0.2)
    assert not overall.stop and overall.value == pytest.approx(0.3)
    assert stopping.overall_uncertainty_below([0.1, 0.2], 0.2).stop
    with pytest.raises(ValidationError) as raised:
        stopping.max_uncertainty_below([], 0.1)
    assert raised.value.field == "scores"
    with pytest.raises(ValidationError) as raised:
        stopping.overall_uncertainty_below([0.1], float("nan"))
    assert raised.value.field == "threshold"


def test_budget() -> None:
    assert stopping.budget_exhausted(500, 500).stop
    left = stopping.budget_exhausted(120, 500)
    assert not left.stop and left.reason == "380 of 500 labels left in the budget"
    for args, field in (((-1, 10), "n_labelled"), ((1, 0), "budget"), ((1.5, 3), "n_labelled")):
        with pytest.raises(ValidationError) as raised:
            stopping.budget_exhausted(*args)
        assert raised.value.field == field


def test_stop_decision_is_frozen() -> None:
    decision = stopping.budget_exhausted(1, 2)
    with pytest.raises(AttributeError):
        decision.stop = True


@pytest.mark.parametrize(
    "module_name",
    ["uncertainty", "committee", "sampling", "diversity", "badge", "stopping"],
)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(f"labelloop.strategies.{module_name}")
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
