"""Cluster representatives and cluster-margin picks, over the available pool items.

Rules kept here:

1. k-means looks at no more than ``MAX_CLUSTER_CANDIDATES`` available items (a random
   sample, at least ``k``), so its cost stays bounded however large the pool grows.
2. A cluster's representative is its sampled member nearest the centre; clusters are
   taken largest first, and when fewer than ``k`` clusters are non-empty the batch is
   topped up with random sampled items (each then stands for itself).
3. The representatives' scores cover the whole pool: minus the squared distance to the
   nearest centre.
4. Cluster-margin picks the most uncertain available item of each cluster
   (:func:`labelloop.strategies.cluster_diverse`), as indices into the whole pool.

Validation is assumed done (:func:`labelloop.selection.select_batch` does it).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from labelloop import strategies
from labelloop.selection._context import SelectionContext
from labelloop.strategies._blocks import ROWS_PER_BLOCK
from labelloop.strategies._distances import min_sq_distances, row_sq_norms

__all__ = ["MAX_CLUSTER_CANDIDATES", "cluster_margin", "representatives"]

# Items k-means sees when it looks for cluster representatives.
MAX_CLUSTER_CANDIDATES = 3000


def _kmeans(X, n_clusters: int, rng: np.random.Generator) -> KMeans:
    # scikit-learn's k-means, not strategies._kmeans: the representatives (and so every
    # cold start and "auto"'s representative arm) were measured with it; another k-means
    # picks other items, a change of label efficiency to measure, not a refactoring.
    seed = int(rng.integers(2**31 - 1))
    return KMeans(n_clusters=n_clusters, n_init=1, max_iter=50, random_state=seed).fit(X)


def _distances_to_centres(X, centres: np.ndarray) -> np.ndarray:
    """Squared distance from every row of ``X`` to its nearest centre."""
    return min_sq_distances(X, row_sq_norms(X), centres, ROWS_PER_BLOCK)


def representatives(
    context: SelectionContext, k: int, available: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The available item nearest each of ``k`` k-means centres, scores and cluster sizes.

    Returns
    -------
    indices : ndarray of shape (k,)
        Pool indices, largest cluster first.
    scores : ndarray of shape (n_pool,)
        Minus the squared distance of every pool item to its nearest centre.
    sizes : list of int
        The estimated size of each picked item's cluster in the available pool.
    """
    pool = context.pool_embedding
    candidates = np.flatnonzero(available)
    n_sample = min(candidates.size, max(MAX_CLUSTER_CANDIDATES, k))
    sample = np.sort(context.rng.choice(candidates, size=n_sample, replace=False))
    sampled = pool[sample]
    model = _kmeans(sampled, k, context.rng)
    centres = model.cluster_centers_
    sample_distances = _distances_to_centres(sampled, centres)
    assigned = model.labels_
    indices: list[int] = []
    sizes: list[int] = []
    scale = candidates.size / n_sample
    for cluster in np.argsort(-np.bincount(assigned, minlength=k)):
        members = np.flatnonzero(assigned == cluster)
        if members.size == 0:
            continue
        indices.append(int(sample[members[np.argmin(sample_distances[members])]]))
        sizes.append(int(round(members.size * scale)))
    if len(indices) < k:
        rest = np.setdiff1d(sample, indices)
        extra = context.rng.choice(rest, size=k - len(indices), replace=False)
        indices.extend(int(i) for i in extra)
        sizes.extend([1] * len(extra))
    scores = -_distances_to_centres(pool, centres)
    return np.asarray(indices, dtype=np.intp), scores, sizes


def cluster_margin(
    context: SelectionContext, scores: np.ndarray, k: int, available: np.ndarray
) -> np.ndarray:
    """Cluster-margin picks among the available items: the most uncertain of each cluster."""
    candidates = np.flatnonzero(available)
    if candidates.size == context.n_pool:
        subset, embeddings = scores, context.pool_embedding
    else:
        subset, embeddings = scores[candidates], context.pool_embedding[candidates]
    picked = strategies.cluster_diverse(subset, embeddings, k, random_state=context.rng)
    return candidates[np.asarray(picked, dtype=np.intp)]
