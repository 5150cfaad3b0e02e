"""Where people and the model disagree, grouped: by confusion and by clusters of items.

Rules
-----
1. A confusion is a pair (given label -> right label). `confusion_counts` counts each
   pair's disagreements before and from a cut-off (the engine's "this week"), largest
   first, ties by the pair's labels, so the order is stable.
2. Clusters are k-means clusters of the items' feature rows (k-means++ seeding and Lloyd
   iterations on a random subsample of at most ``sample_size`` rows, then every row
   assigned to its nearest center: the cost is bounded on any pool).
3. A cluster's error rate is its share of flagged rows (items with a disagreement among
   the items it holds). A cluster is *mislabelled* when it holds at least
   ``min_flagged`` flagged rows and its rate is at least ``min_rate``.
4. A cluster of text rows is described by its top terms: the columns of its largest mean
   TF-IDF weight.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.strategies._kmeans import kmeans_labels
from labelloop.strategies._validation import check_random_state

__all__ = [
    "ClusterRates",
    "Confusion",
    "cluster_error_rates",
    "cluster_rows",
    "confusion_counts",
    "top_terms",
]

_ROWS_PER_BLOCK = 4096
_N_ITER = 20


@dataclass(frozen=True)
class Confusion:
    """One confusion (rule 1): how often ``given`` should have been ``correct``.

    ``rows`` are the positions (in the input) of its disagreements, in input order.
    """

    given: Hashable
    correct: Hashable
    n_recent: int
    n_before: int
    rows: tuple[int, ...]

    @property
    def n_total(self) -> int:
        """Disagreements before and from the cut-off."""
        return self.n_recent + self.n_before


@dataclass(frozen=True)
class ClusterRates:
    """Per cluster (rule 3): ``size`` rows, ``flagged`` of them, their ``rate`` and
    whether the cluster is ``mislabelled``; arrays of shape (n_clusters,)."""

    size: np.ndarray
    flagged: np.ndarray
    rate: np.ndarray
    mislabelled: np.ndarray
    overall_rate: float


def confusion_counts(
    given: Sequence[Hashable], correct: Sequence[Hashable], recent: Sequence[bool]
) -> list[Confusion]:
    """Count disagreements per (given -> correct) pair, recent and before (rule 1).

    Parameters
    ----------
    given, correct : sequence of hashable, length n
        The label given and the label it should have been, per disagreement.
    recent : sequence of bool, length n
        Whether the disagreement is from the recent window (for example this week).

    Returns
    -------
    list of Confusion
        Largest total first.

    Examples
    --------
    >>> [(c.given, c.correct, c.n_recent, c.n_before) for c in confusion_counts(
    ...     ["fresh", "fresh", "rotten"], ["rotten", "rotten", "fresh"], [True, False, True])]
    [('fresh', 'rotten', 1, 1), ('rotten', 'fresh', 1, 0)]
    """
    if not len(given) == len(correct) == len(recent):
        raise ValidationError(
            f"given, correct and recent must have one length, got "
            f"{len(given)}, {len(correct)} and {len(recent)}",
            field="given",
        )
    rows: dict[tuple[Hashable, Hashable], list[int]] = {}
    for row, pair in enumerate(zip(given, correct, strict=True)):
        rows.setdefault(pair, []).append(row)
    found = []
    for (g, c), members in rows.items():
        n_recent = sum(bool(recent[r]) for r in members)
        found.append(Confusion(g, c, n_recent, len(members) - n_recent, tuple(members)))
    found.sort(key=lambda x: (-x.n_total, -x.n_recent, str(x.given), str(x.correct)))
    return found


def cluster_rows(
    X: Any, *, n_clusters: int = 8, sample_size: int = 5000, random_state: Any = None
) -> np.ndarray:
    """Cluster index of every row of ``X`` (rule 2).

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Feature rows (TF-IDF, embeddings, scaled columns).
    n_clusters : int, default=8
        At most this many clusters; fewer when there are fewer rows.
    sample_size : int, default=5000
        The centers are fitted on at most this many rows, which bounds the cost.
    random_state : int, numpy Generator or None

    Returns
    -------
    ndarray of int, shape (n_samples,)

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> labels = cluster_rows(X, n_clusters=2, random_state=0)
    >>> bool(labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2])
    True
    """
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 1:
        raise ValidationError("n_clusters must be a whole number >= 1", field="n_clusters")
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
        raise ValidationError("sample_size must be a whole number >= 1", field="sample_size")
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValidationError(f"X must be 2-dimensional, got shape {X.shape}", field="X")
        if not np.isfinite(X).all():
            raise ValidationError("X holds NaN or infinite values", field="X")
    n = X.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    rng = check_random_state(random_state)
    k = min(n_clusters, n, sample_size)
    if k == 1:
        return np.zeros(n, dtype=np.intp)
    return np.asarray(
        kmeans_labels(
            X, k, rng, sample_size=sample_size, n_iter=_N_ITER, rows_per_block=_ROWS_PER_BLOCK
        ),
        dtype=np.intp,
    )


def cluster_error_rates(
    clusters: Any,
    flagged: Any,
    *,
    n_clusters: int | None = None,
    min_rate: float = 0.25,
    min_flagged: int = 3,
) -> ClusterRates:
    """Each cluster's share of flagged rows, and which clusters are mislabelled (rule 3).

    Parameters
    ----------
    clusters : array-like of int, shape (n_samples,)
        Cluster index per row (`cluster_rows`).
    flagged : array-like of bool, shape (n_samples,)
        Whether the row's item has a disagreement.
    n_clusters : int, optional
        How many clusters there are (default: the largest index + 1).
    min_rate : float, default=0.25
    min_flagged : int, default=3

    Examples
    --------
    >>> rates = cluster_error_rates([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 1], min_flagged=2)
    >>> rates.rate.tolist(), rates.mislabelled.tolist()
    ([1.0, 0.3333333333333333], [True, False])
    """
    labels = np.asarray(clusters, dtype=np.intp).ravel()
    marks = np.asarray(flagged, dtype=bool).ravel()
    if labels.size != marks.size:
        raise ValidationError(
            f"clusters has {labels.size} rows but flagged has {marks.size}", field="flagged"
        )
    if labels.size and labels.min() < 0:
        raise ValidationError("cluster indices must be >= 0", field="clusters")
    if not 0.0 <= float(min_rate) <= 1.0:
        raise ValidationError("min_rate must be within [0, 1]", field="min_rate")
    if isinstance(min_flagged, bool) or not isinstance(min_flagged, int) or min_flagged < 1:
        raise ValidationError("min_flagged must be a whole number >= 1", field="min_flagged")
    k = int(labels.max()) + 1 if n_clusters is None and labels.size else (n_clusters or 0)
    size = np.bincount(labels, minlength=k)
    hits = np.bincount(labels, weights=marks.astype(float), minlength=k).astype(np.intp)
    rate = np.divide(hits, size, out=np.zeros(k), where=size > 0)
    mislabelled = (hits >= min_flagged) & (rate >= float(min_rate))
    overall = float(marks.mean()) if marks.size else 0.0
    return ClusterRates(size, hits, rate, mislabelled, overall)


def top_terms(
    X: Any, clusters: Any, vocabulary: Sequence[str], *, n_terms: int = 5
) -> list[list[str]]:
    """The ``n_terms`` columns of largest mean weight in each cluster (rule 4).

    Parameters
    ----------
    X : sparse matrix or array of shape (n_samples, n_terms_total)
        TF-IDF rows.
    clusters : array-like of int, shape (n_samples,)
    vocabulary : sequence of str, length n_terms_total
        The term of each column.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0, 0.2], [0.0, 1.0, 0.1]])
    >>> top_terms(X, [0, 1], ["ironic", "fresh", "film"], n_terms=2)
    [['ironic', 'film'], ['fresh', 'film']]
    """
    labels = np.asarray(clusters, dtype=np.intp).ravel()
    if X.shape[0] != labels.size:
        raise ValidationError(
            f"X has {X.shape[0]} rows but clusters has {labels.size}", field="clusters"
        )
    if X.shape[1] != len(vocabulary):
        raise ValidationError(
            f"X has {X.shape[1]} columns but the vocabulary {len(vocabulary)} terms",
            field="vocabulary",
        )
    k = int(labels.max()) + 1 if labels.size else 0
    membership = sp.csr_matrix(
        (np.ones(labels.size), (labels, np.arange(labels.size))), shape=(k, labels.size)
    )
    sums = np.asarray((membership @ X).todense() if sp.issparse(X) else membership @ X)
    terms = []
    for row in sums:
        order = np.argsort(-row, kind="stable")[:n_terms]
        terms.append([str(vocabulary[j]) for j in order if row[j] > 0])
    return terms
