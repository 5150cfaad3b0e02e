"""Consensus of several annotators by Dawid-Skene: per-annotator confusion matrices by EM.

Rules
-----
1. Input is a matrix of shape (n_items, n_annotators) of class indices, -1 where an
   annotator did not label the item; every item has at least one label.
2. EM starts from the majority vote (soft, ties shared), then alternates: class priors
   and each annotator's confusion matrix (rows: true class, columns: given label, with
   add-``smoothing`` counts) from the posteriors; posteriors from priors and matrices,
   in log space. It stops when no posterior moves more than ``tol``, or at ``max_iter``.
3. An annotator's estimated accuracy is the prior-weighted diagonal of their matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["Consensus", "dawid_skene"]


@dataclass(frozen=True)
class Consensus:
    """Dawid-Skene's estimates.

    Attributes
    ----------
    labels : ndarray of int, shape (n_items,)
        The most probable true class of each item.
    posteriors : ndarray of shape (n_items, n_classes)
    confusion : ndarray of shape (n_annotators, n_classes, n_classes)
        ``confusion[a, t, g]``: probability that annotator ``a`` gives ``g`` when ``t``.
    accuracy : ndarray of shape (n_annotators,)
    n_iter : int
    """

    labels: np.ndarray
    posteriors: np.ndarray
    confusion: np.ndarray
    accuracy: np.ndarray
    n_iter: int


def dawid_skene(
    annotations: Any,
    *,
    n_classes: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> Consensus:
    """Consensus labels and annotator confusion matrices by EM (rules 1 to 3).

    Examples
    --------
    >>> votes = np.array([[0, 0, 1], [1, 1, 1], [0, 0, 0], [1, 1, 0]])
    >>> dawid_skene(votes).labels.tolist()
    [0, 1, 0, 1]
    """
    A = np.asarray(annotations)
    if A.ndim != 2 or A.size == 0 or not np.issubdtype(A.dtype, np.integer):
        raise ValidationError(
            "annotations must be a 2-d int array (items x annotators), -1 for none",
            field="annotations",
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValidationError(f"max_iter must be an int >= 1, got {max_iter!r}", field="max_iter")
    given = A >= 0
    empty = np.flatnonzero(~given.any(axis=1))
    if empty.size:
        raise ValidationError(f"item {int(empty[0])} has no label", field=f"annotations.{empty[0]}")
    k = int(A.max()) + 1 if n_classes is None else int(n_classes)
    if A.max() >= k or A.min() < -1:
        raise ValidationError(f"labels must be -1 or 0..{k - 1}", field="annotations")
    onehot = np.zeros((*A.shape, k))  # (items, annotators, classes)
    rows, cols = np.nonzero(given)
    onehot[rows, cols, A[rows, cols]] = 1.0
    votes = onehot.sum(axis=1)
    post = (votes == votes.max(axis=1, keepdims=True)).astype(float)
    post /= post.sum(axis=1, keepdims=True)
    n_iter, moved = 0, np.inf
    while n_iter < max_iter and moved >= tol:
        n_iter += 1
        prior = post.mean(axis=0)
        counts = np.einsum("it,iag->atg", post, onehot) + smoothing
        confusion = counts / counts.sum(axis=2, keepdims=True)
        log_post = np.log(prior + 1e-12) + np.einsum("iag,atg->it", onehot, np.log(confusion))
        log_post -= log_post.max(axis=1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(axis=1, keepdims=True)
        moved = np.abs(new - post).max()
        post = new
    accuracy = np.einsum("t,att->a", post.mean(axis=0), confusion)
    return Consensus(
        labels=post.argmax(axis=1),
        posteriors=post,
        confusion=confusion,
        accuracy=accuracy,
        n_iter=n_iter,
    )
