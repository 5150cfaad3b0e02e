"""The contract every batch selector honours; each selector's test class inherits it.

A subclass implements ``select(pool, k, random_state, **kwargs)`` and says whether its
pick depends on the seed in general; selectors that take embeddings inherit
``EmbeddingSelectorContract``, which adds sparse input.
"""

from __future__ import annotations

import numpy as np
import pytest
from _strategy_pools import Pool, make_pool, sparse_copy

from labelloop.exceptions import ValidationError


class SelectorContract:
    seed_dependent = True

    def select(self, pool: Pool, k: int, random_state=None, **kwargs) -> np.ndarray:
        raise NotImplementedError

    def tied_pool(self, n: int) -> Pool:
        """A pool where every item looks the same to the selector."""
        return Pool(
            X=np.ones((n, 4)),
            proba=np.full((n, 3), 1 / 3),
            scores=np.full(n, 0.5),
        )

    @pytest.fixture
    def pool(self, seed: int) -> Pool:
        return make_pool(seed=seed)

    def test_returns_k_indices(self, pool: Pool) -> None:
        assert self.select(pool, 7, random_state=0).shape == (7,)

    def test_indices_are_unique(self, pool: Pool) -> None:
        picks = self.select(pool, 20, random_state=0)
        assert np.unique(picks).size == picks.size

    def test_indices_lie_in_the_pool(self, pool: Pool) -> None:
        picks = self.select(pool, 20, random_state=0)
        assert picks.min() >= 0
        assert picks.max() < pool.n

    def test_indices_are_integers(self, pool: Pool) -> None:
        picks = self.select(pool, 5, random_state=0)
        assert np.issubdtype(picks.dtype, np.integer)
        assert picks.ndim == 1

    def test_k_equal_to_the_pool_takes_everything(self, pool: Pool) -> None:
        picks = self.select(pool, pool.n, random_state=0)
        assert sorted(picks.tolist()) == list(range(pool.n))

    def test_k_one(self, pool: Pool) -> None:
        assert self.select(pool, 1, random_state=0).shape == (1,)

    @pytest.mark.parametrize("bad_k", [0, -3])
    def test_k_not_positive_names_k(self, pool: Pool, bad_k: int) -> None:
        with pytest.raises(ValueError, match="k") as raised:
            self.select(pool, bad_k, random_state=0)
        assert isinstance(raised.value, ValidationError)
        assert raised.value.field == "k"

    def test_k_larger_than_pool_names_k(self, pool: Pool) -> None:
        with pytest.raises(ValidationError, match="larger than the pool") as raised:
            self.select(pool, pool.n + 1, random_state=0)
        assert raised.value.field == "k"

    @pytest.mark.parametrize("bad_k", [2.5, "3", True])
    def test_k_not_an_int_names_k(self, pool: Pool, bad_k: object) -> None:
        with pytest.raises(ValidationError) as raised:
            self.select(pool, bad_k, random_state=0)
        assert raised.value.field == "k"

    def test_numpy_int_k_accepted(self, pool: Pool) -> None:
        assert self.select(pool, np.int64(4), random_state=0).shape == (4,)

    def test_same_seed_same_batch(self, pool: Pool) -> None:
        first = self.select(pool, 10, random_state=42)
        again = self.select(pool, 10, random_state=42)
        np.testing.assert_array_equal(first, again)

    def test_generator_accepted_and_reproducible(self, pool: Pool) -> None:
        first = self.select(pool, 10, random_state=np.random.default_rng(3))
        again = self.select(pool, 10, random_state=np.random.default_rng(3))
        np.testing.assert_array_equal(first, again)

    def test_seeds(self, pool: Pool) -> None:
        batches = {tuple(self.select(pool, 10, random_state=s).tolist()) for s in range(8)}
        if self.seed_dependent:
            assert len(batches) > 1
        else:
            assert len(batches) == 1

    def test_bad_random_state_names_it(self, pool: Pool) -> None:
        with pytest.raises(ValidationError) as raised:
            self.select(pool, 3, random_state="seed")
        assert raised.value.field == "random_state"

    def test_ties_give_unique_valid_picks(self) -> None:
        tied = self.tied_pool(12)
        picks = self.select(tied, 5, random_state=0)
        assert np.unique(picks).size == 5
        assert picks.min() >= 0 and picks.max() < 12

    def test_ties_are_broken_at_random(self) -> None:
        tied = self.tied_pool(30)
        batches = {tuple(sorted(self.select(tied, 3, random_state=s))) for s in range(8)}
        assert len(batches) > 1

    def test_float32_input(self, pool: Pool) -> None:
        as32 = Pool(
            X=pool.X.astype(np.float32),
            proba=pool.proba.astype(np.float32),
            scores=pool.scores.astype(np.float32),
        )
        picks = self.select(as32, 8, random_state=0)
        assert np.unique(picks).size == 8

    def test_list_input(self, pool: Pool) -> None:
        as_lists = Pool(X=pool.X.tolist(), proba=pool.proba.tolist(), scores=pool.scores.tolist())
        np.testing.assert_array_equal(
            self.select(as_lists, 6, random_state=1), self.select(pool, 6, random_state=1)
        )

    def test_input_left_unchanged(self, pool: Pool) -> None:
        before = (pool.X.copy(), pool.proba.copy(), pool.scores.copy())
        self.select(pool, 10, random_state=0)
        for kept, now in zip(before, (pool.X, pool.proba, pool.scores), strict=True):
            np.testing.assert_array_equal(kept, now)

    def test_larger_pool(self) -> None:
        big = make_pool(n=3000, seed=9)
        picks = self.select(big, 50, random_state=0)
        assert np.unique(picks).size == 50


class EmbeddingSelectorContract(SelectorContract):
    """The contract plus sparse input, for selectors that take embeddings."""

    def test_sparse_embeddings_match_dense(self, pool: Pool) -> None:
        sparse = sparse_copy(pool.X)
        dense = Pool(X=sparse.toarray(), proba=pool.proba, scores=pool.scores)
        as_sparse = Pool(X=sparse, proba=pool.proba, scores=pool.scores)
        np.testing.assert_array_equal(
            self.select(as_sparse, 10, random_state=5), self.select(dense, 10, random_state=5)
        )
