"""ActiveLearner: the fit / query / teach loop on every task shape, and its protocol."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import SVC

from labelloop.exceptions import ConflictError, PoolExhaustedError, ValidationError
from labelloop.learner import ActiveLearner
from labelloop.models import Committee


def _loop(learner, X, y, *, rounds, n):
    """Run the loop with the true labels as the oracle; returns the labelled indices."""
    unlabelled = np.arange(len(y))
    taught = []
    for _ in range(rounds):
        picked = learner.query(X[unlabelled], n)
        chosen = unlabelled[picked]
        learner.teach(X[chosen], y[chosen])
        taught.extend(chosen.tolist())
        unlabelled = np.setdiff1d(unlabelled, chosen)
    return taught


@pytest.mark.parametrize("strategy", ["auto", "margin", "entropy", "k_center", "badge"])
def test_multiclass_loop_from_no_labels(strategy, digits):
    X, y = digits
    learner = ActiveLearner(LogisticRegression(max_iter=300), strategy, random_state=0)
    learner.fit(X[:0], y[:0])
    taught = _loop(learner, X, y, rounds=4, n=10)
    assert len(set(taught)) == 40
    assert learner.n_labelled_ == 40
    assert learner.estimator_ is not None
    assert learner.score(X, y) > 0.6


def test_binary_loop(iris):
    X, y = iris
    X, y = X[:100], y[:100]
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X[:4], y[:4])
    _loop(learner, X[4:], y[4:], rounds=3, n=5)
    assert learner.predict(X).shape == (100,)
    assert learner.predict_proba(X).shape == (100, 2)


def test_multilabel_loop(multilabel):
    X, Y = multilabel
    learner = ActiveLearner(OneVsRestClassifier(LogisticRegression(max_iter=500)), random_state=0)
    learner.fit(X[:20], Y[:20])
    _loop(learner, X[20:], Y[20:], rounds=3, n=10)
    assert learner.y_labelled_.shape == (50, Y.shape[1])
    assert learner.predict_proba(X).shape == (len(X), Y.shape[1])


@pytest.mark.parametrize("strategy", ["auto", "k_center", "cluster_margin", "margin"])
def test_sparse_tfidf_features(strategy, texts):
    docs, y = texts
    X = TfidfVectorizer().fit_transform(docs)
    learner = ActiveLearner(LogisticRegression(), strategy, random_state=0).fit(X[:0], y[:0])
    _loop(learner, X, y, rounds=4, n=10)
    assert learner.score(X, y) > 0.8


@pytest.mark.parametrize("strategy", ["vote_entropy", "kl_disagreement"])
def test_a_list_of_estimators_is_a_committee(strategy, iris):
    X, y = iris
    learner = ActiveLearner(
        [LogisticRegression(max_iter=500), GaussianNB()], strategy, random_state=0
    )
    learner.fit(X[[0, 1, 50, 51, 100, 101]], y[[0, 1, 50, 51, 100, 101]])
    assert isinstance(learner.estimator_, Committee)
    picked = learner.query(X, 5)
    assert learner.last_selection_.strategy == strategy
    assert "committee disagrees" in learner.last_selection_.reasons[0]
    learner.teach(X[picked], y[picked])


def test_one_class_does_not_raise_and_falls_back_to_cold_start(digits):
    X, y = digits
    ones = np.flatnonzero(y == 1)[:5]
    learner = ActiveLearner(LogisticRegression(), "margin", random_state=0).fit(X[ones], y[ones])
    assert learner.estimator_ is None
    learner.query(X, 10)
    assert learner.last_selection_.strategy == "cold-start"
    with pytest.raises(ConflictError, match="two classes"):
        learner.predict(X)


def test_same_seed_same_queries(digits):
    X, y = digits
    runs = []
    for _ in range(2):
        learner = ActiveLearner(LogisticRegression(max_iter=300), random_state=7).fit(X[:0], y[:0])
        runs.append(_loop(learner, X, y, rounds=4, n=8))
    assert runs[0] == runs[1]


def test_return_scores(iris):
    X, y = iris
    learner = ActiveLearner(LogisticRegression(max_iter=500), "entropy").fit(X[::10], y[::10])
    picked, scores = learner.query(X, 4, return_scores=True)
    assert scores.shape == (150,)
    assert scores[picked].min() >= np.delete(scores, picked).max()


def test_protocol_query_then_teach(iris):
    X, y = iris
    learner = ActiveLearner(LogisticRegression(max_iter=500))
    with pytest.raises(ConflictError, match="fit"):
        learner.query(X, 3)
    learner.fit(X[::10], y[::10])
    with pytest.raises(ConflictError, match="query"):
        learner.teach(X[:2], y[:2])
    picked = learner.query(X, 3)
    with pytest.raises(ConflictError, match="teach"):
        learner.query(X, 3)
    learner.teach(X[picked], y[picked])
    learner.query(X, 3)
    with pytest.raises(PoolExhaustedError):
        ActiveLearner(LogisticRegression()).fit(X[:0], y[:0]).query(X[:0], 1)


def _with_nan(X: np.ndarray) -> np.ndarray:
    X = X.astype(np.float64)
    X[3, 1] = np.nan
    return X


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda lrn, X, y: lrn.query(X, 1000), "n"),
        (lambda lrn, X, y: lrn.query(X, 0), "n"),
        (lambda lrn, X, y: lrn.query(X[:, :2], 3), "X_pool"),
        (lambda lrn, X, y: lrn.fit(X, y[:-1]), "y"),
        (lambda lrn, X, y: lrn.fit(X.ravel(), y), "X"),
        (
            lambda lrn, X, y: ActiveLearner(LogisticRegression(), chunk_size=0).fit(X, y),
            "chunk_size",
        ),
        (
            lambda lrn, X, y: ActiveLearner(LogisticRegression(), random_state=-1).fit(X, y),
            "random_state",
        ),
        (
            lambda lrn, X, y: ActiveLearner(LogisticRegression(), random_state="0").fit(X, y),
            "random_state",
        ),
        (lambda lrn, X, y: lrn.query(X[0], 1), "X_pool"),
        (lambda lrn, X, y: ActiveLearner(LogisticRegression(), classes=5).fit(X, y), "classes"),
        (lambda lrn, X, y: lrn.fit(_with_nan(X), y), "X"),
        (lambda lrn, X, y: lrn.query(_with_nan(X), 3), "X_pool"),
        (lambda lrn, X, y: lrn.fit(X, [None, *y[1:].tolist()]), "y"),
        (lambda lrn, X, y: ActiveLearner(RidgeClassifier()).fit(X, y).query(X, 3), "estimator"),
        (lambda lrn, X, y: ActiveLearner(SVC()).fit(X, y).query(X, 3), "estimator"),
    ],
)
def test_bad_input_names_the_argument(call, field, iris):
    X, y = iris
    learner = ActiveLearner(LogisticRegression(max_iter=500)).fit(X[::10], y[::10])
    with pytest.raises(ValidationError) as error:
        call(learner, X, y)
    assert error.value.field == field


def test_unknown_strategy_is_a_value_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="unknown strategy 'uncertain'"):
        ActiveLearner(LogisticRegression(), "uncertain").fit(X, y)


def test_nan_probabilities_are_a_value_error(iris):
    X, y = iris

    class Broken(LogisticRegression):
        def predict_proba(self, X):
            return np.full((X.shape[0], 3), np.nan)

    learner = ActiveLearner(Broken(max_iter=500), "margin").fit(X[::5], y[::5])
    with pytest.raises(ValueError, match="NaN"):
        learner.query(X, 3)


def test_a_pool_in_one_chunk_is_the_default(digits):
    X, y = digits
    picks = []
    for chunk_size in (None, len(y)):
        learner = ActiveLearner(
            LogisticRegression(max_iter=300), "auto", random_state=0, chunk_size=chunk_size
        ).fit(X[:30], y[:30])
        picks.append(learner.query(X[30:], 8, return_scores=True))
    np.testing.assert_array_equal(picks[0][0], picks[1][0])
    np.testing.assert_array_equal(picks[0][1], picks[1][1])


@pytest.mark.parametrize("strategy", ["auto", "margin", "k_center"])
def test_chunked_queries_pick_among_the_chunks_proposals(strategy, digits):
    X, y = digits
    learner = ActiveLearner(
        LogisticRegression(max_iter=300), strategy, random_state=0, chunk_size=100
    ).fit(X[:30], y[:30])
    taught = _loop(learner, X, y, rounds=3, n=8)
    assert len(set(taught)) == 24
    _, scores = learner.query(X[30:], 8, return_scores=True)
    assert scores.shape == (len(y) - 30,)
