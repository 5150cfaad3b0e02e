"""The built-in logistic regression's probabilities in numpy equal scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.multiclass import OneVsRestClassifier

from labelloop.models.builtin import ProjectModel, TextFeaturizer, build_model
from labelloop.models.logistic import logistic_proba


def _data(seed: int, n_classes: int, layout: str):
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=3.0, size=(300, 25))
    y = rng.integers(0, n_classes, 300)
    X[np.arange(300), y] += 4.0  # separable enough for confident rows too
    if layout == "csr":
        X = sp.csr_matrix(np.where(rng.random(X.shape) < 0.3, X, 0.0).astype(np.float32))
    elif layout == "float32":
        X = X.astype(np.float32)
    return X, y


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_classes", [2, 3, 6])
@pytest.mark.parametrize("layout", ["csr", "float32", "float64"])
def test_probabilities_equal_scikit_learns(seed, n_classes, layout):
    X, y = _data(seed, n_classes, layout)
    for params in ({}, {"C": 100.0}, {"fit_intercept": False}, {"class_weight": "balanced"}):
        classifier = LogisticRegression(max_iter=2000, **params).fit(X, y)
        got = logistic_proba(classifier, X)
        assert got is not None and got.shape == (300, n_classes)
        np.testing.assert_allclose(got, classifier.predict_proba(X), rtol=1e-12, atol=1e-15)
        one = logistic_proba(classifier, X[:1])
        np.testing.assert_allclose(one, classifier.predict_proba(X[:1]), rtol=1e-12, atol=1e-15)


def test_string_classes_keep_scikit_learns_column_order():
    X, y = _data(0, 3, "csr")
    names = np.array(["neg", "pos", "mixed"], dtype=object)[y]
    classifier = LogisticRegression(max_iter=2000).fit(X, names)
    np.testing.assert_allclose(logistic_proba(classifier, X), classifier.predict_proba(X))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # LogisticRegressionCV's coming defaults
def test_everything_else_goes_to_scikit_learn():
    X, y = _data(1, 3, "float64")
    fitted = LogisticRegression(max_iter=2000).fit(X, y)
    others = [
        LogisticRegressionCV(max_iter=2000, cv=2).fit(X, y),  # a subclass
        HistGradientBoostingClassifier(max_iter=5).fit(X, y),
        OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(X, y),
    ]
    for classifier in others:
        assert logistic_proba(classifier, X) is None
    assert logistic_proba(LogisticRegression(), X) is None  # not fitted
    bad = X.copy()
    bad[3, 2] = np.nan
    for X_other in (
        sp.csc_matrix(X),
        X.astype(np.int64),
        X.tolist(),
        X[:, :10],
        X[:0],
        bad,
        sp.csr_matrix(bad),
    ):
        assert logistic_proba(fitted, X_other) is None
    with pytest.raises(ValueError, match="NaN"):  # scikit-learn's own error, as before
        ProjectModel(TextFeaturizer(), fitted, ["0", "1", "2"]).predict_proba(bad)


@pytest.mark.parametrize("labels", [["neg", "pos"], ["a", "b", "c", "d"]])
def test_project_model_probabilities_equal_scikit_learns(labels):
    from labelloop.models.builtin import ItemInput

    rng = np.random.default_rng(3)
    words = {name: [f"{name}{i}" for i in range(6)] for name in labels}
    texts, y = [], []
    for i in range(400):
        name = labels[i % len(labels)]
        texts.append(" ".join(rng.choice(words[name] + ["the", "a", "film"], 5)))
        y.append(name)
    model = build_model("classification", labels=labels)
    items = [ItemInput({"text": text}) for text in texts]
    model.featurizer.fit(items)
    X = model.featurizer.transform(items)
    model.fit(X, model.encode_labels(y))
    proba = model.predict_proba(X)
    expected = model.classifier.predict_proba(X)
    for col, name in enumerate(model.classifier.classes_):
        np.testing.assert_allclose(proba[:, labels.index(str(name))], expected[:, col])
