"""BADGE-style selection: k-means++ seeding over gradient embeddings of a softmax model.

For a linear softmax model on features ``x_i``, the loss gradient for the hallucinated
label (the predicted class) with respect to the last layer is ``g_i = a_i ⊗ x_i`` with
``a_i = onehot(argmax p_i) - p_i``. Its length says how uncertain the model is; its
direction says where in feature space. Distances between gradients factorise:

    ||g_i - g_j||^2 = ||a_i||^2 ||x_i||^2 + ||a_j||^2 ||x_j||^2 - 2 (a_i . a_j)(x_i . x_j)

so the (n_samples, n_classes * n_features) gradient matrix is never built.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._distances import dense_row, row_sq_norms
from labelloop.strategies._kmeans import d2_seeding
from labelloop.strategies._validation import (
    check_embeddings,
    check_k,
    check_proba,
    check_random_state,
)

__all__ = ["badge"]


def _badge(proba: np.ndarray, X, k: int, rng: np.random.Generator) -> np.ndarray:
    """BADGE picks; validation assumed."""
    residual = -proba.astype(np.float64)
    residual[np.arange(proba.shape[0]), proba.argmax(axis=1)] += 1.0
    residual_norms = np.einsum("ij,ij->i", residual, residual)
    feature_norms = row_sq_norms(X).astype(np.float64)
    gradient_norms = residual_norms * feature_norms

    def distances_to(index: int) -> np.ndarray:
        residual_dots = residual @ residual[index]
        feature_dots = np.asarray(X @ dense_row(X, index), dtype=np.float64)
        distances = gradient_norms + gradient_norms[index] - 2 * residual_dots * feature_dots
        return np.maximum(distances, 0, out=distances)

    # The longest gradient (most uncertain, farthest out) seeds the batch, as in BADGE.
    longest = np.flatnonzero(gradient_norms == gradient_norms.max())
    first = int(rng.choice(longest))
    return d2_seeding(distances_to, proba.shape[0], k, first, rng)


def badge(
    proba: ArrayLike,
    embeddings: ArrayLike | sp.spmatrix,
    k: int,
    *,
    random_state: None | int | np.random.Generator = None,
) -> np.ndarray:
    """Pick a batch that is both uncertain and diverse (BADGE, Ash et al. 2020).

    k-means++ seeding over the gradient embeddings of a linear softmax model: items with
    long gradients (uncertain) and gradients pointing different ways (diverse) are drawn
    first. Each pick costs one pass over the pool.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        The model's class probabilities on the pool, rows summing to 1.
    embeddings : array-like or scipy sparse matrix of shape (n_samples, n_features)
        The features the model's last (linear) layer sees, dense or sparse.
    k : int
        Batch size, between 1 and ``n_samples``.
    random_state : None, int or numpy.random.Generator, default=None
        Drives the D^2 sampling; a seed makes the pick reproducible.

    Returns
    -------
    indices : ndarray of shape (k,)
        Distinct indices into the pool, in pick order.

    Raises
    ------
    ValidationError
        If ``proba`` or ``embeddings`` is malformed, their lengths differ, or ``k`` is not
        in [1, n_samples].

    Examples
    --------
    >>> proba = [[0.5, 0.5], [0.99, 0.01], [0.5, 0.5], [0.98, 0.02]]
    >>> X = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    >>> sorted(badge(proba, X, 2, random_state=0).tolist())
    [0, 2]
    """
    checked = check_proba(proba)
    X = check_embeddings(embeddings)
    if X.shape[0] != checked.shape[0]:
        raise ValidationError(
            f"embeddings has {X.shape[0]} rows but proba has {checked.shape[0]}",
            field="embeddings",
        )
    k = check_k(k, checked.shape[0])
    return _badge(checked, X, k, check_random_state(random_state))
