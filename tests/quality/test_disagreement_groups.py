"""The pure grouping of disagreements: confusions, clusters, their rates and top terms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.quality import cluster_error_rates, cluster_rows, confusion_counts, top_terms


def test_confusions_count_recent_and_before_largest_first():
    given = ["a", "a", "b", "a", "c"]
    correct = ["b", "b", "a", "b", "a"]
    recent = [True, False, True, True, False]
    found = confusion_counts(given, correct, recent)
    assert [(c.given, c.correct, c.n_recent, c.n_before) for c in found] == [
        ("a", "b", 2, 1),
        ("b", "a", 1, 0),
        ("c", "a", 0, 1),
    ]
    assert found[0].rows == (0, 1, 3) and found[0].n_total == 3


def test_confusions_need_one_length():
    with pytest.raises(ValidationError):
        confusion_counts(["a"], ["b", "c"], [True])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clusters_separate_blobs_dense_and_sparse(seed):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 0.1, (30, 4)), rng.normal(5, 0.1, (30, 4))])
    for rows in (X, sp.csr_matrix(X)):
        labels = cluster_rows(rows, n_clusters=2, random_state=seed)
        assert len(set(labels[:30])) == 1 and len(set(labels[30:])) == 1
        assert labels[0] != labels[30]


def test_clusters_are_reproducible_and_bounded():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    a = cluster_rows(X, n_clusters=4, sample_size=50, random_state=7)
    b = cluster_rows(X, n_clusters=4, sample_size=50, random_state=7)
    assert np.array_equal(a, b) and a.shape == (500,) and set(a) <= {0, 1, 2, 3}
    assert cluster_rows(X[:1], n_clusters=4).tolist() == [0]
    assert cluster_rows(np.zeros((0, 3))).size == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n_clusters": 0}, "n_clusters"), ({"sample_size": 0}, "sample_size")],
)
def test_cluster_options_are_checked(kwargs, field):
    with pytest.raises(ValidationError) as raised:
        cluster_rows(np.zeros((3, 2)), **kwargs)
    assert raised.value.field == field


def test_bad_rows_are_refused():
    with pytest.raises(ValidationError, match="NaN"):
        cluster_rows(np.array([[np.nan, 1.0], [0.0, 1.0]]))


def test_mislabelled_needs_both_the_rate_and_the_count():
    clusters = [0] * 4 + [1] * 10 + [2] * 2
    flagged = [1, 1, 1, 0] + [1, 1, 0, 0, 0, 0, 0, 0, 0, 0] + [1, 1]
    rates = cluster_error_rates(clusters, flagged, min_rate=0.5, min_flagged=2)
    assert rates.size.tolist() == [4, 10, 2]
    assert rates.flagged.tolist() == [3, 2, 2]
    # cluster 1: 2 flagged but 20%; cluster 2: 100% of 2 items, at the count
    assert rates.mislabelled.tolist() == [True, False, True]
    assert rates.overall_rate == pytest.approx(7 / 16)
    strict = cluster_error_rates(clusters, flagged, min_rate=0.5, min_flagged=3)
    assert strict.mislabelled.tolist() == [True, False, False]


def test_top_terms_of_sparse_rows():
    X = sp.csr_matrix(np.array([[0.9, 0.0, 0.1], [0.8, 0.0, 0.3], [0.0, 1.0, 0.0]]))
    assert top_terms(X, [0, 0, 1], ["irony", "warm", "film"], n_terms=2) == [
        ["irony", "film"],
        ["warm"],
    ]
    with pytest.raises(ValidationError):
        top_terms(X, [0, 0, 1], ["irony"])
