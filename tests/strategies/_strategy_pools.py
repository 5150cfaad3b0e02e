"""Small pools shared by the strategy tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Pool:
    """A small pool: embeddings, a model's probabilities on it and margin-like scores."""

    X: np.ndarray
    proba: np.ndarray
    scores: np.ndarray

    @property
    def n(self) -> int:
        return self.X.shape[0]


def make_pool(n: int = 60, n_features: int = 6, n_classes: int = 3, seed: int = 0) -> Pool:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    proba = rng.dirichlet(np.ones(n_classes), size=n)
    scores = 1 - np.abs(np.diff(np.sort(proba, axis=1)[:, -2:], axis=1)).ravel()
    return Pool(X=X, proba=proba, scores=scores)


def sparse_copy(X: np.ndarray) -> sp.csr_matrix:
    """A CSR matrix holding the same values as ``X`` with about half of them zeroed."""
    masked = X * (np.abs(X) > 0.6)
    return sp.csr_matrix(masked)
