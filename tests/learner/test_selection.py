"""select_batch: every strategy name, every task shape, the auto bandit's state, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import GaussianNB

from labelloop.exceptions import ValidationError
from labelloop.models import Committee
from labelloop.selection import STRATEGY_NAMES, Selection, check_strategy, select_batch

SINGLE_MODEL = tuple(s for s in STRATEGY_NAMES if s not in ("vote_entropy", "kl_disagreement"))


def _split(X, y, n_labelled, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    return order[:n_labelled], order[n_labelled:]


def _assert_valid(selection: Selection, n_pool: int, k: int) -> None:
    assert selection.indices.shape == (k,)
    assert np.unique(selection.indices).size == k
    assert selection.indices.min() >= 0 and selection.indices.max() < n_pool
    assert selection.scores.shape == (n_pool,)
    assert np.isfinite(selection.scores).all()
    assert len(selection.reasons) == k and all(isinstance(r, str) and r for r in selection.reasons)
    json.dumps(selection.state)


def _fit_for(strategy, X, y):
    if strategy in ("vote_entropy", "kl_disagreement"):
        return Committee([LogisticRegression(max_iter=500), GaussianNB()]).fit(X, y)
    if strategy == "bald":
        return RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    return LogisticRegression(max_iter=500).fit(X, y)


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_strategy_picks_a_valid_batch_on_multiclass_data(strategy, iris):
    X, y = iris
    labelled, pool = _split(X, y, 30)
    model = _fit_for(strategy, X[labelled], y[labelled])
    selection = select_batch(strategy, model, X[labelled], y[labelled], X[pool], 7, random_state=0)
    _assert_valid(selection, len(pool), 7)
    assert selection.strategy == strategy or strategy == "auto"


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_strategy_is_reproducible_with_a_seed(strategy, iris):
    X, y = iris
    labelled, pool = _split(X, y, 30, seed=1)
    model = _fit_for(strategy, X[labelled], y[labelled])
    picks = [
        select_batch(strategy, model, X[labelled], y[labelled], X[pool], 5, random_state=3)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(picks[0].indices, picks[1].indices)


@pytest.mark.parametrize("strategy", ["margin", "entropy", "auto", "k_center", "badge"])
def test_binary_data(strategy, iris):
    X, y = iris
    X, y = X[:100], y[:100]
    labelled, pool = _split(X, y, 20)
    model = LogisticRegression().fit(X[labelled], y[labelled])
    _assert_valid(select_batch(strategy, model, X[labelled], y[labelled], X[pool], 4), 80, 4)


def test_margin_picks_the_items_nearest_the_boundary():
    X = np.linspace(-3, 3, 61).reshape(-1, 1)
    y = (X.ravel() > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    selection = select_batch("margin", model, X, y, X, 3, random_state=0)
    closest = np.argsort(np.abs(model.predict_proba(X)[:, 1] - 0.5))[:3]
    assert set(selection.indices) == set(closest)
    assert "torn between" in selection.reasons[0]


@pytest.mark.parametrize("strategy", ["margin", "auto", "k_center", "cluster_margin", "badge"])
def test_multilabel_one_vs_rest(strategy, multilabel):
    X, Y = multilabel
    labelled, pool = _split(X, Y, 40)
    model = OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(X[labelled], Y[labelled])
    selection = select_batch(strategy, model, X[labelled], Y[labelled], X[pool], 6, random_state=0)
    _assert_valid(selection, len(pool), 6)


@pytest.mark.parametrize("strategy", ["auto", "k_center", "cluster_margin", "badge", "margin"])
def test_sparse_tfidf_pool(strategy, texts):
    docs, y = texts
    X = TfidfVectorizer().fit_transform(docs)
    labelled, pool = _split(X, y, 40)
    model = LogisticRegression().fit(X[labelled], y[labelled])
    selection = select_batch(strategy, model, X[labelled], y[labelled], X[pool], 8, random_state=0)
    _assert_valid(selection, len(pool), 8)


def test_cold_start_without_a_model_picks_cluster_representatives(digits):
    X, y = digits
    for strategy in ("auto", "margin", "k_center"):
        selection = select_batch(strategy, None, X[:0], y[:0], X, 10, random_state=0)
        _assert_valid(selection, len(y), 10)
        assert selection.strategy == "cold-start"
        # Representatives of 10 clusters of digits cover most of the 10 classes.
        assert np.unique(y[selection.indices]).size >= 6


def test_auto_stays_in_cold_start_until_every_known_class_is_labelled(iris):
    X, y = iris
    labelled = np.array([0, 1, 50, 51])
    model = LogisticRegression().fit(X[labelled], y[labelled])
    selection = select_batch(
        "auto", model, X[labelled], y[labelled], X, 5, classes=[0, 1, 2], random_state=0
    )
    assert selection.strategy == "cold-start"


def test_auto_stays_in_cold_start_while_the_batch_outnumbers_the_labels(iris):
    X, y = iris
    labelled = np.array([0, 1, 2, 50, 51, 52, 100, 101, 102])
    model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])

    def strategy(k):
        return select_batch("auto", model, X[labelled], y[labelled], X, k, random_state=0).strategy

    assert strategy(10) == "cold-start"
    assert strategy(9) != "cold-start"


def test_auto_state_round_trips_through_json_and_rewards_arms(digits):
    X, y = digits
    labelled = list(range(40))
    state = None
    for _ in range(3):
        pool = np.setdiff1d(np.arange(len(y)), labelled)
        model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
        selection = select_batch(
            "auto", model, X[labelled], y[labelled], X[pool], 10, state=state, random_state=0
        )
        state = json.loads(json.dumps(selection.state))
        # The caller may pass the labelled rows in any order: rows are matched by content.
        labelled = list(pool[selection.indices][::-1]) + labelled
    history = state["history"]
    assert len(history) == 3
    assert history[0]["rewards"] == {}
    assert sum(len(h["rewards"]) for h in history[1:]) >= 1
    assert abs(sum(history[-1]["shares"].values()) - 1) < 1e-6
    assert selection.strategy in ("cluster_margin", "margin", "representative", "random")


def test_committee_strategies_need_a_committee(iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.raises(ValidationError) as error:
        select_batch("vote_entropy", model, X, y, X, 3)
    assert error.value.field == "strategy"


def test_bald_uses_sampled_predictions(iris):
    X, y = iris

    class Dropout:
        classes_ = np.array([0, 1, 2])

        def predict_proba(self, X):
            return np.full((X.shape[0], 3), 1 / 3)

        def sample_proba(self, X, n_samples, *, random_state=None):
            rng = np.random.default_rng(random_state)
            draws = rng.dirichlet(np.ones(3), size=(n_samples, X.shape[0]))
            draws[:, :50] = [1.0, 0.0, 0.0]
            return draws

    selection = select_batch("bald", Dropout(), X, y, X, 5, random_state=0)
    assert (selection.indices >= 50).all()


def _auto_state(*, arms=None, **fields):
    """An auto state as a previous selection leaves it, with some fields replaced."""
    arm_names = ("cluster_margin", "margin", "representative", "random")
    record = {"reward": 0.0, "labels": 0.0} if arms is None else arms
    state = {"strategy": "auto", "version": 1, "round": 1, "pending": [], "history": []}
    return {**state, "arms": {arm: dict(record) for arm in arm_names}, **fields}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"strategy": "uncertainty"}, "strategy"),
        ({"k": 0}, "k"),
        ({"k": 1000}, "k"),
        ({"k": 2.5}, "k"),
        ({"y_labelled": np.zeros(3)}, "y_labelled"),
        ({"X_pool": np.zeros((5, 3))}, "X_labelled"),
        ({"X_pool": np.zeros(5)}, "X_pool"),
        ({"state": [1, 2]}, "state"),
        ({"state": {"strategy": "margin"}, "strategy": "auto"}, "state"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": "seed"}, "random_state"),
        ({"random_state": 1.5}, "random_state"),
        ({"classes": 5}, "classes"),
        ({"estimator": object()}, "estimator"),
        ({"X_pool": np.full((5, 4), np.nan)}, "X_pool"),
        ({"X_pool": np.full((5, 4), np.inf), "strategy": "random"}, "X_pool"),
        ({"X_labelled": np.full((150, 4), np.nan)}, "X_labelled"),
        ({"strategy": "auto", "state": _auto_state(arms={"reward": "high"})}, "state"),
        ({"strategy": "auto", "state": _auto_state(pending=[1])}, "state"),
        ({"strategy": "auto", "state": _auto_state(history=None)}, "state"),
    ],
)
def test_bad_arguments_name_their_field(kwargs, field, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    arguments = {
        "strategy": "margin",
        "estimator": model,
        "X_labelled": X,
        "y_labelled": y,
        "X_pool": X,
        "k": 3,
    }
    arguments.update(kwargs)
    with pytest.raises(ValidationError) as error:
        select_batch(**arguments)
    assert error.value.field == field


def test_nan_probabilities_are_refused(iris):
    X, y = iris

    class Broken:
        classes_ = np.array([0, 1, 2])

        def predict_proba(self, X):
            return np.full((X.shape[0], 3), np.nan)

    with pytest.raises(ValueError, match="NaN"):
        select_batch("margin", Broken(), X, y, X, 3)


def test_check_strategy():
    assert check_strategy("auto") == "auto"
    with pytest.raises(ValidationError, match="unknown strategy"):
        check_strategy("Margin")


def test_proba_is_computed_in_chunks_for_large_pools():
    rng = np.random.default_rng(0)
    X = sp.random(20_000, 50, density=0.05, format="csr", random_state=0)
    y = rng.integers(0, 2, 20_000)
    model = LogisticRegression().fit(X[:200], y[:200])
    selection = select_batch("auto", model, X[:200], y[:200], X, 10, random_state=0)
    _assert_valid(selection, 20_000, 10)
