"""Parity with scikit-activeml and small-text on the same arrays (skipped if not installed)."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop import strategies

pytestmark = pytest.mark.peers

skactiveml_pool = pytest.importorskip(
    "skactiveml.pool", reason="scikit-activeml is not installed (pip install '.[dev]')"
)
small_text_strategies = pytest.importorskip(
    "small_text.query_strategies", reason="small-text is not installed (pip install '.[dev]')"
)


@pytest.fixture
def proba() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.dirichlet(np.full(5, 0.7), size=300)


class _FixedProba:
    """Hands small-text precomputed probabilities as a fitted model's output."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, _dataset: object) -> np.ndarray:
        return self.proba


@pytest.mark.parametrize(
    ("ours", "method"),
    [
        (strategies.least_confidence, "least_confident"),
        (strategies.margin, "margin_sampling"),
        (strategies.entropy, "entropy"),
    ],
)
def test_uncertainty_matches_scikit_activeml(proba: np.ndarray, ours, method: str) -> None:
    expected = skactiveml_pool.uncertainty_scores(proba, method=method)
    np.testing.assert_allclose(ours(proba), expected, atol=1e-12)


def test_kl_disagreement_matches_scikit_activeml() -> None:
    rng = np.random.default_rng(1)
    committee = rng.dirichlet(np.ones(4), size=(3, 200))
    expected = skactiveml_pool.average_kl_divergence(committee.copy())
    # scikit-activeml clips probabilities at 1e-7 before the logarithm.
    np.testing.assert_allclose(strategies.kl_disagreement(committee), expected, atol=1e-5)


def test_vote_entropy_matches_scikit_activeml() -> None:
    rng = np.random.default_rng(2)
    committee = rng.dirichlet(np.ones(3), size=(5, 200))
    votes = committee.argmax(axis=2).T
    expected = skactiveml_pool.vote_entropy(votes, classes=np.arange(3))
    np.testing.assert_allclose(strategies.vote_entropy(committee), expected, atol=1e-12)


def test_k_center_matches_scikit_activeml_coreset() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 8))
    y = np.full(400, np.nan)
    y[:10] = 0
    expected = skactiveml_pool.CoreSet(random_state=0).query(X, y, batch_size=15)
    np.testing.assert_array_equal(
        strategies.k_center_greedy(X, 15, labeled=np.arange(10)), expected
    )


def test_margin_matches_small_text_breaking_ties(proba: np.ndarray) -> None:
    confidence = small_text_strategies.BreakingTies().score(
        _FixedProba(proba), None, np.arange(len(proba)), np.arange(0), None
    )
    # small-text negates its gap (p1 - p2) so that lower is better; ours is 1 - gap.
    np.testing.assert_allclose(strategies.margin(proba), 1 - confidence, atol=1e-12)


def test_entropy_matches_small_text_prediction_entropy(proba: np.ndarray) -> None:
    strategy = small_text_strategies.PredictionEntropy()
    strategy.score(_FixedProba(proba), None, np.arange(len(proba)), np.arange(0), None)
    np.testing.assert_allclose(strategies.entropy(proba), strategy.scores_, atol=1e-12)


def test_least_confidence_matches_small_text(proba: np.ndarray) -> None:
    strategy = small_text_strategies.LeastConfidence()
    strategy.score(_FixedProba(proba), None, np.arange(len(proba)), np.arange(0), None)
    np.testing.assert_allclose(strategies.least_confidence(proba), 1 - strategy.scores_)


def test_top_k_margin_picks_match_small_text(proba: np.ndarray) -> None:
    theirs = small_text_strategies.BreakingTies().query(
        _FixedProba(proba), None, np.arange(len(proba)), np.arange(0), None, n=10
    )
    ours = strategies.top_k(strategies.margin(proba), 10, random_state=0)
    assert set(ours.tolist()) == set(np.asarray(theirs).tolist())
