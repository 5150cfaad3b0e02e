"""The small k-means behind cluster_diverse and auto's cluster arm, on dense and CSR rows."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labelloop.strategies._distances import nearest_center
from labelloop.strategies._kmeans import _cluster_means, kmeans_labels


def sparse_topics(n_per_topic: int = 40, n_topics: int = 4, vocabulary: int = 2000, seed: int = 0):
    """Bag-of-words rows: each topic draws its words from its own slice of the vocabulary."""
    rng = np.random.default_rng(seed)
    width = vocabulary // n_topics
    rows, cols, values, truth = [], [], [], []
    for topic in range(n_topics):
        for _ in range(n_per_topic):
            row = len(truth)
            words = rng.choice(width, size=12, replace=False) + topic * width
            rows += [row] * words.size
            cols += words.tolist()
            values += rng.uniform(0.5, 1.5, size=words.size).tolist()
            truth.append(topic)
    X = sp.csr_matrix((values, (rows, cols)), shape=(len(truth), vocabulary))
    return X, np.asarray(truth)


def test_sparse_rows_cluster_as_their_dense_copy() -> None:
    X, _ = sparse_topics()
    sparse_labels = kmeans_labels(
        X, 4, np.random.default_rng(3), sample_size=10_000, n_iter=10, rows_per_block=64
    )
    dense_labels = kmeans_labels(
        X.toarray(), 4, np.random.default_rng(3), sample_size=10_000, n_iter=10, rows_per_block=64
    )
    np.testing.assert_array_equal(sparse_labels, dense_labels)


def test_separated_topics_are_recovered() -> None:
    # Topics of 15 words, 12 to a row: rows of one topic share most of their words.
    X, truth = sparse_topics(vocabulary=60)
    same_topic = truth[:, None] == truth[None, :]
    agreement = []
    for seed in range(10):
        labels = kmeans_labels(
            X, 4, np.random.default_rng(seed), sample_size=10_000, n_iter=20, rows_per_block=50
        )
        agreement.append(((labels[:, None] == labels[None, :]) == same_topic).mean())
    # One k-means++ start can put two seeds in one topic; most starts find every topic.
    assert np.median(agreement) == 1.0


@pytest.mark.parametrize("sparse", [False, True])
def test_cluster_means_keep_an_empty_cluster_in_place(sparse: bool) -> None:
    X = np.array([[1.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    old = np.array([[0.0, 0.0, 9.0], [1.0, 1.0, 1.0], [0.0, 4.0, 0.0]])
    labels = np.array([0, 0, 2])  # cluster 1 gets no row
    means = _cluster_means(
        sp.csr_matrix(X) if sparse else X, labels, sp.csr_matrix(old) if sparse else old
    )
    if sparse:
        assert sp.issparse(means)
        means = means.toarray()
    np.testing.assert_allclose(means, [[2.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 2.0, 0.0]])


def test_sparse_means_stay_sparse() -> None:
    """A center has nonzeros only where its members do, not across the vocabulary."""
    X, truth = sparse_topics(vocabulary=4000)
    means = _cluster_means(X, truth, sp.csr_matrix((4, 4000)))
    assert sp.issparse(means)
    assert means.nnz <= X.nnz
    assert means.nnz < 0.25 * 4 * 4000


@pytest.mark.parametrize("sparse", [False, True])
def test_nearest_center_for_dense_and_sparse_centers(sparse: bool) -> None:
    X = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [9.0, 1.0]])
    centers = np.array([[0.0, 9.0], [1.0, 0.0], [10.0, 1.0]])
    if sparse:
        X, centers = sp.csr_matrix(X), sp.csr_matrix(centers)
    np.testing.assert_array_equal(nearest_center(X, centers, rows_per_block=3), [1, 2, 0, 2])


@pytest.mark.parametrize("sparse", [False, True])
def test_cluster_means_keep_the_rows_dtype(sparse: bool) -> None:
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    old = np.zeros((2, 3), dtype=np.float32)
    if sparse:
        X, old = sp.csr_matrix(X), sp.csr_matrix(old)
    assert _cluster_means(X, np.array([0, 1, 0, 1]), old).dtype == np.float32
