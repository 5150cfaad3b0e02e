"""k-means++ seeding and a small k-means, in numpy, for dense or CSR rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from labelloop.strategies._distances import (
    Matrix,
    dense_row,
    nearest_center,
    row_sq_norms,
    sq_distances_to,
)

__all__ = ["d2_seeding", "kmeans_labels"]


def d2_seeding(
    distances_to: Callable[[int], np.ndarray],
    n_samples: int,
    n_seeds: int,
    first: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """k-means++ seeding: each next seed drawn with probability proportional to D^2.

    ``distances_to(j)`` returns the squared distances from every sample to sample ``j``.
    When every remaining sample coincides with a seed (all D^2 are 0), the next seed is
    drawn uniformly from the samples not yet chosen, so the seeds are always distinct.
    """
    seeds = np.empty(n_seeds, dtype=np.intp)
    seeds[0] = first
    chosen = np.zeros(n_samples, dtype=bool)
    chosen[first] = True
    closest = distances_to(first).astype(np.float64)
    closest[first] = 0.0
    for position in range(1, n_seeds):
        cumulative = np.cumsum(closest)
        total = cumulative[-1]
        if total > 0:
            seed = int(np.searchsorted(cumulative, rng.random() * total, side="right"))
            seed = min(seed, n_samples - 1)
            if chosen[seed]:
                seed = int(rng.choice(np.flatnonzero(~chosen)))
        else:
            seed = int(rng.choice(np.flatnonzero(~chosen)))
        seeds[position] = seed
        chosen[seed] = True
        np.minimum(closest, distances_to(seed), out=closest)
        closest[seed] = 0.0
    return seeds


def _cluster_means(X: Matrix, labels: np.ndarray, old: Matrix) -> Matrix:
    """Mean of each cluster's rows; a cluster left empty keeps its old center.

    Sparse rows give sparse means: a cluster's mean has nonzeros only where its members
    do, a small part of a large vocabulary.
    """
    n_clusters = old.shape[0]
    membership = sp.csr_matrix(
        (np.ones(labels.size, dtype=X.dtype), (labels, np.arange(labels.size))),
        shape=(n_clusters, labels.size),
    )
    counts = np.bincount(labels, minlength=n_clusters)
    filled = counts > 0
    # In the rows' dtype: float32 embeddings keep float32 centers (and float32 products).
    scale = np.divide(1.0, counts, out=np.zeros(n_clusters), where=filled).astype(X.dtype)
    if sp.issparse(X):
        means = sp.diags(scale) @ (membership @ X)
        if not filled.all():
            means = means + sp.diags((~filled).astype(X.dtype)) @ old
        return sp.csr_matrix(means)
    means = np.asarray(membership @ X) * scale[:, None]
    means[~filled] = old[~filled]
    return means


def kmeans_labels(
    X: Matrix,
    n_clusters: int,
    rng: np.random.Generator,
    *,
    sample_size: int,
    n_iter: int,
    rows_per_block: int,
) -> np.ndarray:
    """Cluster label of every row of ``X``.

    Centers come from k-means++ seeding and ``n_iter`` Lloyd iterations on a random
    subsample of ``sample_size`` rows; then every row is assigned to its nearest center.
    """
    n_samples = X.shape[0]
    if n_samples > sample_size:
        sample = X[np.sort(rng.choice(n_samples, size=sample_size, replace=False))]
    else:
        sample = X
    norms = row_sq_norms(sample)

    def distances_to(index: int) -> np.ndarray:
        return sq_distances_to(sample, norms, dense_row(sample, index), norms[index])

    first = int(rng.integers(sample.shape[0]))
    seeds = d2_seeding(distances_to, sample.shape[0], n_clusters, first, rng)
    centers = sample[seeds]
    centers = sp.csr_matrix(centers) if sp.issparse(centers) else np.array(centers)
    labels = None
    for _ in range(n_iter):
        assigned = nearest_center(sample, centers, rows_per_block)
        # Unchanged assignments give unchanged means: Lloyd's iterations have converged.
        if labels is not None and np.array_equal(assigned, labels):
            break
        labels = assigned
        centers = _cluster_means(sample, labels, centers)
    return nearest_center(X, centers, rows_per_block)
