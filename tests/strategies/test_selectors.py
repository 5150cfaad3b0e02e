"""Every selector against the shared contract, then what is particular to each."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _selector_contract import EmbeddingSelectorContract, SelectorContract
from _strategy_pools import Pool, make_pool, sparse_copy

from labelloop import strategies
from labelloop.exceptions import ValidationError
from labelloop.strategies._kmeans import d2_seeding


class TestTopK(SelectorContract):
    seed_dependent = False

    def select(self, pool: Pool, k, random_state=None, **kwargs):
        return strategies.top_k(pool.scores, k, random_state=random_state, **kwargs)

    def test_highest_scores_first(self) -> None:
        np.testing.assert_array_equal(
            strategies.top_k([0.1, 0.9, 0.5, 0.7, 0.3], 3), np.array([1, 3, 2])
        )

    def test_ties_at_the_boundary_drawn_from_the_tied_items(self) -> None:
        scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
        for seed in range(10):
            picks = strategies.top_k(scores, 2, random_state=seed)
            assert picks[0] == 0
            assert picks[1] in (1, 2, 3)

    @pytest.mark.parametrize(
        "bad", [[0.1, np.nan], [np.inf, 0.2], [[0.1, 0.2]], [], np.array([]).reshape(0)]
    )
    def test_bad_scores_named(self, bad) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.top_k(bad, 1)
        assert raised.value.field == "scores"


class TestRandomSample(SelectorContract):
    def select(self, pool: Pool, k, random_state=None, **kwargs):
        return strategies.random_sample(len(pool.scores), k, random_state=random_state)

    def test_exported_as_random(self) -> None:
        assert strategies.random is strategies.random_sample
        assert "random" in strategies.__all__

    @pytest.mark.parametrize("bad", [0, -1, 2.0, "10"])
    def test_bad_pool_size_named(self, bad) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.random_sample(bad, 1)
        assert raised.value.field == "n_pool"

    def test_roughly_uniform(self) -> None:
        counts = np.bincount(
            np.concatenate([strategies.random_sample(10, 3, random_state=s) for s in range(2000)]),
            minlength=10,
        )
        assert counts.min() > 500  # 600 expected per item


class TestKCenterGreedy(EmbeddingSelectorContract):
    def select(self, pool: Pool, k, random_state=None, **kwargs):
        return strategies.k_center_greedy(pool.X, k, random_state=random_state, **kwargs)

    def test_farthest_first(self) -> None:
        X = [[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [10.0, 0.0], [10.0, 0.2]]
        assert strategies.k_center_greedy(X, 2, labeled=[0]).tolist() == [4, 2]

    @pytest.mark.parametrize("clustered", [False, True])
    def test_matches_brute_force_farthest_first(self, seed: int, clustered: bool) -> None:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((500, 4))
        if clustered:
            X += 8 * rng.standard_normal((6, 4))[rng.integers(6, size=500)]
        picks = strategies.k_center_greedy(X, 40, random_state=seed)
        expected = [int(picks[0])]
        nearest = ((X - X[expected[0]]) ** 2).sum(axis=1)
        for _ in range(39):
            nearest[expected] = -1
            expected.append(int(np.argmax(nearest)))
            nearest = np.minimum(nearest, ((X - X[expected[-1]]) ** 2).sum(axis=1))
        assert picks.tolist() == expected

    def test_labelled_indices_never_picked(self) -> None:
        pool = make_pool(n=40)
        labelled = np.arange(10)
        picks = strategies.k_center_greedy(pool.X, 30, labeled=labelled)
        assert not set(picks.tolist()) & set(labelled.tolist())
        assert sorted(picks.tolist()) == list(range(10, 40))

    def test_labelled_mask_equals_indices(self) -> None:
        pool = make_pool(n=40)
        mask = np.zeros(40, dtype=bool)
        mask[[3, 7, 11]] = True
        np.testing.assert_array_equal(
            strategies.k_center_greedy(pool.X, 5, labeled=mask),
            strategies.k_center_greedy(pool.X, 5, labeled=[3, 7, 11]),
        )

    def test_labelled_embeddings_equal_labelled_rows(self) -> None:
        pool = make_pool(n=50)
        inside = strategies.k_center_greedy(pool.X, 5, labeled=[0, 1, 2])
        outside = strategies.k_center_greedy(pool.X[3:], 5, labeled=pool.X[:3])
        np.testing.assert_array_equal(inside, outside + 3)

    def test_labelled_sparse_embeddings(self) -> None:
        pool = make_pool(n=50)
        picks = strategies.k_center_greedy(
            sp.csr_matrix(pool.X[3:]), 5, labeled=sp.csr_matrix(pool.X[:3])
        )
        np.testing.assert_array_equal(
            picks, strategies.k_center_greedy(pool.X[3:], 5, labeled=pool.X[:3])
        )

    def test_sparse_pool_with_labelled_rows_matches_dense(self) -> None:
        X = sparse_copy(make_pool(n=50).X)
        for labeled in ([0, 5, 9], X[:4], X[:4].toarray()):
            np.testing.assert_array_equal(
                strategies.k_center_greedy(X, 6, labeled=labeled),
                strategies.k_center_greedy(X.toarray(), 6, labeled=labeled),
            )

    def test_empty_labeled_is_nothing_labelled(self) -> None:
        X = make_pool(n=20).X
        np.testing.assert_array_equal(
            strategies.k_center_greedy(X, 4, labeled=[], random_state=1),
            strategies.k_center_greedy(X, 4, random_state=1),
        )

    def test_k_counts_only_unlabelled_items(self) -> None:
        pool = make_pool(n=10)
        with pytest.raises(ValidationError) as raised:
            strategies.k_center_greedy(pool.X, 8, labeled=[0, 1, 2])
        assert raised.value.field == "k"

    @pytest.mark.parametrize("bad", [[60], [-1], [0.5], np.ones((2, 3)), np.zeros(3, dtype=bool)])
    def test_bad_labeled_named(self, bad) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.k_center_greedy(make_pool(n=60).X, 2, labeled=bad)
        assert raised.value.field == "labeled"

    @pytest.mark.parametrize(
        "bad", [np.zeros((0, 3)), np.zeros(5), [[np.nan, 1.0], [0.0, 0.0]], [[np.inf, 1.0]]]
    )
    def test_bad_embeddings_named(self, bad) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.k_center_greedy(bad, 1)
        assert raised.value.field == "embeddings"

    def test_large_coordinates_do_not_break_the_distances(self) -> None:
        X = make_pool(n=30).X + 1e4
        picks = strategies.k_center_greedy(X, 30, labeled=None, random_state=0)
        assert np.unique(picks).size == 30


class TestClusterDiverse(EmbeddingSelectorContract):
    def select(self, pool: Pool, k, random_state=None, **kwargs):
        return strategies.cluster_diverse(
            pool.scores, pool.X, k, random_state=random_state, **kwargs
        )

    def test_round_robin_over_precomputed_clusters(self) -> None:
        scores = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
        clusters = np.array([0, 0, 0, 0, 1, 1])
        picks = strategies.cluster_diverse(scores, None, 4, cluster_labels=clusters)
        # Cluster 0 (best item 0.9) first, then cluster 1, then round two.
        assert picks.tolist() == [0, 4, 1, 5]

    def test_one_pick_per_separated_cluster(self) -> None:
        rng = np.random.default_rng(0)
        centers = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
        X = np.repeat(centers, 30, axis=0) + rng.normal(scale=0.1, size=(90, 2))
        scores = np.zeros(90)
        scores[:30] = 0.9  # the first cluster is the most uncertain everywhere
        picks = strategies.cluster_diverse(scores, X, 3, n_clusters=3, random_state=0)
        assert sorted((picks // 30).tolist()) == [0, 1, 2]

    def test_embeddings_required_without_cluster_labels(self) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.cluster_diverse([0.1, 0.2], None, 1)
        assert raised.value.field == "embeddings"

    def test_length_mismatch_named(self) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.cluster_diverse([0.1, 0.2, 0.3], np.zeros((2, 2)), 1)
        assert raised.value.field == "embeddings"

    @pytest.mark.parametrize("bad", [0, 61])
    def test_bad_n_clusters_named(self, bad) -> None:
        pool = make_pool()
        with pytest.raises(ValidationError) as raised:
            strategies.cluster_diverse(pool.scores, pool.X, 2, n_clusters=bad)
        assert raised.value.field == "n_clusters"

    def test_bad_cluster_labels_named(self) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.cluster_diverse([0.1, 0.2], None, 1, cluster_labels=[0.5, 1.0])
        assert raised.value.field == "cluster_labels"


class TestBadge(EmbeddingSelectorContract):
    def select(self, pool: Pool, k, random_state=None, **kwargs):
        return strategies.badge(pool.proba, pool.X, k, random_state=random_state, **kwargs)

    def test_factorised_distances_match_explicit_gradients(self) -> None:
        pool = make_pool(n=40, n_classes=4)
        residual = -pool.proba
        residual[np.arange(40), pool.proba.argmax(axis=1)] += 1
        gradients = (residual[:, :, None] * pool.X[:, None, :]).reshape(40, -1)
        norms = (gradients**2).sum(axis=1)

        def distances_to(index: int) -> np.ndarray:
            return ((gradients - gradients[index]) ** 2).sum(axis=1)

        rng = np.random.default_rng(7)
        first = int(rng.choice(np.flatnonzero(norms == norms.max())))
        expected = d2_seeding(distances_to, 40, 10, first, rng)
        np.testing.assert_array_equal(
            strategies.badge(pool.proba, pool.X, 10, random_state=7), expected
        )

    def test_prefers_uncertain_items(self) -> None:
        rng = np.random.default_rng(1)
        X = rng.standard_normal((200, 5))
        proba = np.tile([0.999, 0.0005, 0.0005], (200, 1))
        proba[:20] = [0.4, 0.35, 0.25]
        hits = sum(
            int((strategies.badge(proba, X, 10, random_state=s) < 20).sum()) for s in range(5)
        )
        assert hits >= 45

    def test_length_mismatch_named(self) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.badge([[0.5, 0.5]], np.zeros((2, 2)), 1)
        assert raised.value.field == "embeddings"

    def test_bad_proba_named(self) -> None:
        with pytest.raises(ValidationError) as raised:
            strategies.badge([[0.5, 0.6]], np.zeros((1, 2)), 1)
        assert raised.value.field == "proba"
