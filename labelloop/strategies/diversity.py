"""Batch selectors that spread a batch over the pool's geometry.

Both accept dense arrays or scipy sparse matrices (e.g. TF-IDF) as embeddings; sparse
pools are never densified whole, and no (n_samples, n_samples) matrix is ever built.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._distances import (
    Matrix,
    dense_row,
    min_sq_distances,
    row_sq_norms,
    sq_distances_to,
)
from labelloop.strategies._kmeans import kmeans_labels
from labelloop.strategies._validation import (
    check_embeddings,
    check_k,
    check_random_state,
    check_scores,
)

__all__ = ["cluster_diverse", "k_center_greedy"]


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValidationError(f"{name} must be a positive int, got {value!r}", field=name)
    return int(value)


def _labelled_rows(labeled: Any, X: Matrix) -> tuple[np.ndarray, Matrix | None]:
    """Split ``labeled`` into pool indices to exclude, or embeddings of labelled items."""
    n_samples = X.shape[0]
    excluded = np.zeros(n_samples, dtype=bool)
    if labeled is None:
        return excluded, None
    if sp.issparse(labeled) or np.ndim(labeled) == 2:
        centers = check_embeddings(labeled, name="labeled")
        if centers.shape[1] != X.shape[1]:
            raise ValidationError(
                f"labeled has {centers.shape[1]} features but embeddings has {X.shape[1]}",
                field="labeled",
            )
        return excluded, centers
    indices = np.asarray(labeled)
    if indices.ndim != 1:
        raise ValidationError(
            "labeled must be 1-D pool indices or 2-D embeddings of labelled items, "
            f"got shape {indices.shape}",
            field="labeled",
        )
    if indices.size == 0:
        return excluded, None
    if indices.dtype == np.bool_:
        if indices.size != n_samples:
            raise ValidationError(
                f"labeled mask has {indices.size} entries but the pool has {n_samples}",
                field="labeled",
            )
        return indices.copy(), None
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValidationError(
            f"labeled indices must be ints, got dtype {indices.dtype}", field="labeled"
        )
    if indices.min() < 0 or indices.max() >= n_samples:
        raise ValidationError(f"labeled indices must lie in [0, {n_samples - 1}]", field="labeled")
    excluded[indices] = True
    return excluded, None


def _farthest(
    X: Matrix,
    norms: np.ndarray,
    closest: np.ndarray,
    fresh: np.ndarray,
    centers: np.ndarray,
    rows_per_block: int,
) -> int:
    """The item farthest from its nearest center, refreshing stale distances lazily.

    ``closest[i]`` is exact for the first ``fresh[i]`` of ``centers`` and so an upper bound
    (distances only shrink as centers are added). Only the items with the largest bounds are
    brought up to date; once the best of them is at least every other item's bound, it is
    the true farthest item. Far items rarely sit near the newest center, so one small
    refresh usually settles a pick instead of a pass over the whole pool.
    """
    n_samples = closest.shape[0]
    n_candidates = 64
    while True:
        n_candidates = min(n_candidates, n_samples)
        top = np.argpartition(closest, n_samples - n_candidates)[n_samples - n_candidates :]
        bound = closest[top].min()  # no item outside ``top`` can be farther than this
        stale = top[fresh[top] < centers.size]
        if stale.size:
            newest = X[centers[fresh[stale].min() :]]
            refreshed = min_sq_distances(X[stale], norms[stale], newest, rows_per_block)
            closest[stale] = np.minimum(closest[stale], refreshed)
            fresh[stale] = centers.size
        best = int(top[np.argmax(closest[top])])
        if closest[best] >= bound:
            return best
        n_candidates *= 4


def _k_center_greedy(
    X: Matrix,
    k: int,
    excluded: np.ndarray,
    labelled_embeddings: Matrix | None,
    rng: np.random.Generator,
    rows_per_block: int,
) -> np.ndarray:
    """Greedy k-center picks; validation assumed.

    One exact pass over the pool for the labelled items, then lazy updates per pick.
    """
    norms = row_sq_norms(X)
    picks = np.empty(k, dtype=np.intp)
    first = 0
    if labelled_embeddings is not None:
        closest = min_sq_distances(X, norms, labelled_embeddings, rows_per_block)
    elif excluded.any():
        closest = min_sq_distances(X, norms, X[np.flatnonzero(excluded)], rows_per_block)
    else:
        # Nothing labelled yet: the first center is a random pool item.
        picks[0] = rng.integers(X.shape[0])
        center = dense_row(X, picks[0])
        closest = sq_distances_to(X, norms, center, norms[picks[0]]).astype(np.float64)
        excluded[picks[0]] = True
        first = 1
    closest[excluded] = -np.inf
    fresh = np.full(X.shape[0], first, dtype=np.intp)
    for position in range(first, k):
        pick = _farthest(X, norms, closest, fresh, picks[:position], rows_per_block)
        picks[position] = pick
        closest[pick] = -np.inf
    return picks


def k_center_greedy(
    embeddings: ArrayLike | sp.spmatrix,
    k: int,
    *,
    labeled: ArrayLike | sp.spmatrix | None = None,
    random_state: None | int | np.random.Generator = None,
    chunk_size: int = 2048,
) -> np.ndarray:
    """Core-set picks: each next item is the one farthest from everything chosen so far.

    The exact farthest-first traversal: one pass over the pool measures the distance of
    every item to its nearest labelled item (in blocks, so no n x n matrix); after that,
    each pick refreshes only the few items that could be the farthest (distances only
    shrink as centers are added, so stale values are upper bounds). Extra memory is
    O(n_samples).

    Parameters
    ----------
    embeddings : array-like or scipy sparse matrix of shape (n_samples, n_features)
        The pool, dense or sparse (sparse rows are never densified whole). float32 input
        stays float32, which halves the memory traffic.
    k : int
        Batch size, between 1 and the number of pool items not in ``labeled``.
    labeled : array-like or sparse matrix, optional
        What is labelled already, either as 1-D int indices (or a boolean mask) of pool
        rows, which are then never picked, or as 2-D embeddings
        (n_labelled, n_features) of labelled items outside the pool.
    random_state : None, int or numpy.random.Generator, default=None
        Picks the first center when nothing is labelled; a seed makes it reproducible.
    chunk_size : int, default=2048
        Rows per block when measuring distances to the labelled items.

    Returns
    -------
    indices : ndarray of shape (k,)
        Indices into ``embeddings``, in pick order.

    Raises
    ------
    ValidationError
        If ``embeddings`` is empty, not 2-D or holds NaN/inf, ``labeled`` is malformed, or
        ``k`` is not in [1, number of unlabelled items].

    Examples
    --------
    >>> X = [[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [10.0, 0.0]]
    >>> k_center_greedy(X, 2, labeled=[0]).tolist()
    [3, 2]
    """
    X = check_embeddings(embeddings)
    chunk_size = _check_positive_int(chunk_size, "chunk_size")
    excluded, labelled_embeddings = _labelled_rows(labeled, X)
    k = check_k(k, X.shape[0] - int(excluded.sum()))
    rng = check_random_state(random_state)
    return _k_center_greedy(X, k, excluded, labelled_embeddings, rng, chunk_size)


def _round_robin(
    scores: np.ndarray, labels: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Most uncertain item of each cluster, clusters by best score, round after round."""
    n_samples = scores.shape[0]
    # Within each cluster, items by descending score; exact ties in random order.
    order = np.lexsort((rng.random(n_samples), -scores, labels))
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank_in_cluster = np.arange(n_samples) - starts
    heads = rank_in_cluster == 0
    n_clusters = int(labels.max()) + 1
    best = np.full(n_clusters, -np.inf)
    best[sorted_labels[heads]] = scores[order[heads]]
    cluster_order = np.lexsort((rng.random(n_clusters), -best))
    cluster_rank = np.empty(n_clusters, dtype=np.intp)
    cluster_rank[cluster_order] = np.arange(n_clusters)
    visit = np.lexsort((cluster_rank[sorted_labels], rank_in_cluster))
    return order[visit[:k]].astype(np.intp, copy=False)


def _check_cluster_labels(cluster_labels: ArrayLike, n_samples: int) -> np.ndarray:
    labels = np.asarray(cluster_labels)
    if labels.ndim != 1 or labels.size != n_samples:
        raise ValidationError(
            f"cluster_labels must have shape ({n_samples},) like scores, got {labels.shape}",
            field="cluster_labels",
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValidationError(
            f"cluster_labels must be ints, got dtype {labels.dtype}", field="cluster_labels"
        )
    _, codes = np.unique(labels, return_inverse=True)
    return codes.reshape(-1)


def cluster_diverse(
    scores: ArrayLike,
    embeddings: ArrayLike | sp.spmatrix | None,
    k: int,
    *,
    n_clusters: int | None = None,
    cluster_labels: ArrayLike | None = None,
    random_state: None | int | np.random.Generator = None,
    sample_size: int = 10_000,
    n_iter: int = 10,
) -> np.ndarray:
    """Uncertainty within clusters (cluster-margin style): one item per cluster per round.

    The pool is clustered (k-means++ seeding and Lloyd iterations on a random subsample of
    ``sample_size`` rows, then every row assigned to its nearest center). Clusters are
    visited in order of their most uncertain item; each visit takes the cluster's most
    uncertain item not yet taken, round after round, until ``k`` items are picked. So the
    batch is the most uncertain items the pool has, subject to not crowding into one region.
    A sparse pool (TF-IDF) is never densified, and neither are its cluster centers, so
    memory follows the nonzeros rather than ``n_clusters`` x ``n_features``.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Informativeness of each pool item (e.g. :func:`margin`); higher is picked first.
    embeddings : array-like or scipy sparse matrix of shape (n_samples, n_features) or None
        The pool's features, dense or sparse; may be None when ``cluster_labels`` is given.
    k : int
        Batch size, between 1 and ``n_samples``.
    n_clusters : int, optional
        Number of clusters; default ``min(n_samples, 2 * k)``, so that the first round
        already skips the clusters whose best item is least uncertain.
    cluster_labels : array-like of shape (n_samples,), optional
        Precomputed cluster of each item (ints); skips the clustering.
    random_state : None, int or numpy.random.Generator, default=None
        Drives the clustering and breaks exact ties; a seed makes the pick reproducible.
    sample_size : int, default=10_000
        Rows the cluster centers are fitted on (at least 20 per cluster are used).
    n_iter : int, default=10
        Maximum Lloyd iterations; they stop earlier once no row changes cluster.

    Returns
    -------
    indices : ndarray of shape (k,)
        Indices into the pool, in pick order.

    Raises
    ------
    ValidationError
        If ``scores`` or ``embeddings`` is malformed, their lengths differ, or ``k`` or
        ``n_clusters`` is not in [1, n_samples].

    Examples
    --------
    >>> X = [[0.0], [0.1], [0.2], [9.0], [9.1]]
    >>> picks = cluster_diverse([0.9, 0.8, 0.7, 0.2, 0.1], X, 2, n_clusters=2, random_state=0)
    >>> sorted(picks.tolist())
    [0, 3]
    """
    checked = check_scores(scores)
    n_samples = checked.shape[0]
    k = check_k(k, n_samples)
    rng = check_random_state(random_state)
    if cluster_labels is not None:
        labels = _check_cluster_labels(cluster_labels, n_samples)
        return _round_robin(checked, labels, k, rng)
    if embeddings is None:
        raise ValidationError(
            "embeddings is required unless cluster_labels is given", field="embeddings"
        )
    X = check_embeddings(embeddings)
    if X.shape[0] != n_samples:
        raise ValidationError(
            f"embeddings has {X.shape[0]} rows but scores has {n_samples}", field="embeddings"
        )
    if n_clusters is None:
        n_clusters = min(n_samples, 2 * k)
    n_clusters = check_k(n_clusters, n_samples, name="n_clusters")
    sample_size = max(_check_positive_int(sample_size, "sample_size"), 20 * n_clusters)
    n_iter = _check_positive_int(n_iter, "n_iter")
    labels = kmeans_labels(
        X, n_clusters, rng, sample_size=sample_size, n_iter=n_iter, rows_per_block=4096
    )
    return _round_robin(checked, labels, k, rng)
