"""Small real data sets shared by the learner and selection tests."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_thread_per_fit():
    # Small fits on shared cores: BLAS threads fighting each other cost up to 30x.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@pytest.fixture(scope="session")
def multilabel():
    X, Y = make_multilabel_classification(n_samples=300, n_features=12, n_classes=4, random_state=0)
    return X.astype(float), Y


@pytest.fixture(scope="session")
def texts():
    rng = np.random.default_rng(0)
    good = ["great", "lovely", "superb", "fine", "wonderful", "charming"]
    bad = ["awful", "dull", "boring", "poor", "terrible", "bland"]
    filler = ["film", "plot", "actor", "scene", "story", "music", "ending", "script"]
    docs, labels = [], []
    for i in range(400):
        words = list(rng.choice(good if i % 2 else bad, 3)) + list(rng.choice(filler, 5))
        docs.append(" ".join(words))
        labels.append(i % 2)
    return docs, np.asarray(labels)
