"""Rare classes: which classes the labels lack, and the pool items near their examples.

Rules kept here:

1. A class is rare when its labels number fewer than ``share`` of an even split of the
   labels between the classes (``count < share * n_labelled / n_classes``), or none at
   all (a class the schema names that no label has yet), or, given the model's
   probabilities over the pool, when the pool's mean probability of the class is below
   ``share / n_classes``: labels picked for being informative over-represent a class
   that is rare in the pool, and the pool's predictions say so.
2. The candidates of a rare class are the union of the ``n_neighbors`` nearest pool items
   (Euclidean, in the embedding) of each of its labelled examples, as SEALS restricts
   its candidate pool (Coleman et al. 2022). A rare class with no labelled example has
   no candidates: there is nothing to expand around.
3. Distances weigh each dimension by how much the model uses it, where the model says
   (:func:`feature_relevance`): the root of the summed squared coefficients of a linear
   model, or a tree ensemble's feature importances. Dimensions the model ignores (noise
   columns, on which raw Euclidean neighbours mostly differ) then no longer decide who
   is near. Measured in ``benchmarks/rare_classes.py``: more rare items found per label
   on every set, most on a set with ten noise columns (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_finite

__all__ = ["feature_relevance", "rare_class_labels", "rare_neighbours"]


def rare_class_labels(
    y_labelled: ArrayLike,
    classes: Sequence[Any],
    *,
    pool_proba: ArrayLike | None = None,
    share: float = 0.5,
) -> list[Any]:
    """The classes that are rare among the labels (rule 1), in ``classes`` order.

    Parameters
    ----------
    y_labelled : array-like of shape (n_labelled,)
        The labels so far.
    classes : sequence
        Every class of the task, labelled or not.
    pool_proba : array-like of shape (n_pool, n_classes), optional
        The model's probabilities over the pool, columns in ``classes`` order.
    share : float, default 0.5
        A class with fewer labels than this share of an even split is rare; in (0, 1].

    Returns
    -------
    list
        The rare classes.

    Examples
    --------
    >>> rare_class_labels(["a"] * 9 + ["b"] * 8 + ["c"], ["a", "b", "c", "d"])
    ['c', 'd']
    """
    if not 0 < share <= 1:
        raise ValidationError(f"share must be in (0, 1], got {share}", field="share")
    y = np.asarray(y_labelled)
    if y.ndim != 1:
        raise ValidationError("y_labelled must be 1-D (single-label)", field="y_labelled")
    classes = list(classes)
    if not classes:
        return []
    threshold = share * y.size / len(classes)
    counts = {value: 0 for value in classes}
    for value, count in zip(*np.unique(y, return_counts=True), strict=True):
        key = value.item() if isinstance(value, np.generic) else value
        if key in counts:
            counts[key] = int(count)
    rare = {value for value in classes if counts[value] == 0 or counts[value] < threshold}
    if pool_proba is not None:
        proba = np.asarray(pool_proba, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(classes):
            raise ValidationError("pool_proba must have one column per class", field="pool_proba")
        if proba.shape[0]:
            expected = proba.mean(axis=0)
            rare |= {c for c, p in zip(classes, expected, strict=True) if p < share / len(classes)}
    return [value for value in classes if value in rare]


def feature_relevance(estimator: Any, n_dims: int) -> np.ndarray | None:
    """How much a fitted model uses each of ``n_dims`` input dimensions (rule 3), or None.

    The final step of a scikit-learn ``Pipeline`` is read, whose inputs are the
    pipeline's embedding (:func:`labelloop.models.adapters.embed`). A linear model gives
    the root of its summed squared coefficients per dimension, a tree ensemble its
    ``feature_importances_``. None when the model has neither, when it embeds items
    itself (an ``embed`` method: its coefficients would not be of that space), when their
    size is not ``n_dims``, or when they are not finite or all zero: distances stay
    unweighted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = [[0.0, 5.0], [0.1, -5.0], [1.0, 5.0], [1.1, -5.0]]
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> weights = feature_relevance(model, 2)
    >>> bool(weights[0] > weights[1])
    True
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(estimator, Pipeline) and callable(getattr(estimator, "embed", None)):
        return None
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    coef = getattr(final, "coef_", None)
    if coef is not None:
        coef = coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef, dtype=float)
        weights = np.sqrt((np.atleast_2d(coef) ** 2).sum(axis=0))
    else:
        importances = getattr(final, "feature_importances_", None)
        if importances is None:
            return None
        weights = np.asarray(importances, dtype=float)
    if weights.ndim != 1 or weights.size != n_dims or not np.all(np.isfinite(weights)):
        return None
    if not np.any(weights > 0):
        return None
    return weights


def rare_neighbours(
    pool_embedding: Any,
    example_embedding: Any,
    *,
    n_neighbors: int = 10,
    weights: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The pool items among the nearest neighbours of any example (rules 2 and 3).

    Parameters
    ----------
    pool_embedding : array-like or sparse matrix of shape (n_pool, n_dims)
    example_embedding : array-like or sparse matrix of shape (n_examples, n_dims)
        The labelled examples of the rare classes.
    n_neighbors : int, default 10
        Neighbours taken around each example (fewer when the pool is smaller).
    weights : array-like of shape (n_dims,), optional
        Non-negative scale of each dimension before distances are taken
        (:func:`feature_relevance`); None leaves them as they are.

    Returns
    -------
    indices : ndarray of shape (n_candidates,)
        Pool indices, ascending, each once.
    distances : ndarray of shape (n_candidates,)
        Each candidate's distance to its nearest example.

    Examples
    --------
    >>> pool = [[0.0], [1.0], [5.0], [9.0], [10.0]]
    >>> rare_neighbours(pool, [[9.5]], n_neighbors=2)[0]
    array([3, 4])
    """
    from sklearn.neighbors import NearestNeighbors

    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, int) or n_neighbors < 1:
        raise ValidationError(
            f"n_neighbors must be an int >= 1, got {n_neighbors!r}", field="n_neighbors"
        )
    pool = pool_embedding if hasattr(pool_embedding, "tocsr") else np.asarray(pool_embedding)
    examples = (
        example_embedding if hasattr(example_embedding, "tocsr") else np.asarray(example_embedding)
    )
    check_finite(pool, name="pool_embedding")
    check_finite(examples, name="example_embedding")
    if pool.ndim != 2 or examples.ndim != 2 or pool.shape[1] != examples.shape[1]:
        raise ValidationError(
            "pool_embedding and example_embedding must be 2-D with as many columns",
            field="example_embedding",
        )
    if weights is not None:
        scale = np.asarray(weights, dtype=float)
        if scale.shape != (pool.shape[1],) or not np.all(np.isfinite(scale)) or np.any(scale < 0):
            raise ValidationError(
                f"weights must be {pool.shape[1]} finite non-negative numbers, one per "
                "dimension of the embedding",
                field="weights",
            )
        pool, examples = _scaled(pool, scale), _scaled(examples, scale)
    if pool.shape[0] == 0 or examples.shape[0] == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    index = NearestNeighbors(n_neighbors=min(n_neighbors, pool.shape[0])).fit(pool)
    distances, neighbours = index.kneighbors(examples)
    nearest: dict[int, float] = {}
    for row, dist in zip(neighbours.ravel().tolist(), distances.ravel().tolist(), strict=True):
        nearest[row] = min(dist, nearest.get(row, np.inf))
    order = np.asarray(sorted(nearest), dtype=np.intp)
    return order, np.asarray([nearest[int(i)] for i in order])


def _scaled(matrix: Any, scale: np.ndarray) -> Any:
    """``matrix`` with each column multiplied by its scale; sparse stays sparse."""
    if hasattr(matrix, "tocsr"):
        import scipy.sparse as sp

        return sp.csr_matrix(matrix @ sp.diags(scale))
    return matrix * scale
