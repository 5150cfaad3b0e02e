"""Disagreement of a committee (or of Monte Carlo samples of one Bayesian model).

Every score takes ``proba`` of shape (n_members, n_samples, n_classes), each member's rows
summing to 1, and returns shape (n_samples,): higher means the members disagree more, so a
human label teaches the model most. Logarithms are natural (nats). The work runs over
blocks of samples, so memory stays flat as the pool grows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from labelloop.strategies._blocks import row_blocks
from labelloop.strategies._validation import check_committee_proba

__all__ = ["bald", "kl_disagreement", "vote_entropy"]


def _entropy_last_axis(p: np.ndarray) -> np.ndarray:
    # 0 * log(tiny) is 0, which is the limit of p log p at p = 0.
    return 0.0 - (p * np.log(np.maximum(p, np.finfo(p.dtype).tiny))).sum(axis=-1)


def _score_blocks(
    proba: np.ndarray, members_score: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Score checked ``proba`` over blocks of samples: ``members_score`` maps one
    (n_members, n_block, n_classes) block to its (n_block,) scores."""
    n_members, n_samples, n_classes = proba.shape
    out = np.empty(n_samples, dtype=proba.dtype)
    for block in row_blocks(n_samples, max(1, 655_360 // (n_members * n_classes))):
        out[block] = members_score(proba[:, block])
    return out


def _vote_entropy_block(members: np.ndarray) -> np.ndarray:
    n_members, n_block, n_classes = members.shape
    votes = members.argmax(axis=2)
    rows = np.arange(n_block) * n_classes
    counts = np.bincount((votes + rows).ravel(), minlength=n_block * n_classes)
    shares = (counts.reshape(-1, n_classes) / n_members).astype(members.dtype, copy=False)
    return _entropy_last_axis(shares)


def _kl_disagreement_block(members: np.ndarray) -> np.ndarray:
    consensus = members.mean(axis=0)
    # KL(p || q) = sum p log p - sum p log q; p > 0 implies q > 0 since q is their mean.
    cross = (members * np.log(np.maximum(consensus, np.finfo(members.dtype).tiny))).sum(axis=-1)
    divergence = -_entropy_last_axis(members) - cross
    return np.maximum(divergence.mean(axis=0), 0)


def _bald_block(members: np.ndarray) -> np.ndarray:
    total = _entropy_last_axis(members.mean(axis=0))
    expected = _entropy_last_axis(members).mean(axis=0)
    return np.maximum(total - expected, 0)


def vote_entropy(proba: ArrayLike) -> np.ndarray:
    """Entropy of the members' hard votes (each member votes for its most likely class).

    Parameters
    ----------
    proba : array-like of shape (n_members, n_samples, n_classes)
        Each member's (or Monte Carlo sample's) class probabilities.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In [0, log(min(n_members, n_classes))]; 0 when every member votes alike.

    Raises
    ------
    ValidationError
        If ``proba`` is not 3-D, is empty, holds NaN/inf or rows that do not sum to 1.

    Examples
    --------
    >>> committee = [[[0.9, 0.1], [0.6, 0.4]], [[0.8, 0.2], [0.3, 0.7]]]
    >>> vote_entropy(committee).round(4)
    array([0.    , 0.6931])
    """
    return _score_blocks(check_committee_proba(proba), _vote_entropy_block)


def kl_disagreement(proba: ArrayLike) -> np.ndarray:
    """Mean Kullback-Leibler divergence of each member from the committee's consensus.

    Takes the parameters and raises the errors of :func:`vote_entropy`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``mean_m KL(p_m || mean_m p_m)``, non-negative; 0 when all members agree.

    Notes
    -----
    The mean divergence from the consensus equals the mutual information that
    :func:`bald` computes (an identity, not an approximation); the two names serve the
    committee and the Bayesian reading of the same quantity.

    Examples
    --------
    >>> committee = [[[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]]]
    >>> kl_disagreement(committee).round(4)
    array([0.    , 0.6931])
    """
    return _score_blocks(check_committee_proba(proba), _kl_disagreement_block)


def bald(proba: ArrayLike) -> np.ndarray:
    """Mutual information between the prediction and the model (BALD).

    The entropy of the mean prediction minus the mean entropy of the members: high when
    members are each confident but disagree, low when they agree or are all unsure alike.
    Members are typically Monte Carlo dropout samples or an ensemble.

    Takes the parameters and raises the errors of :func:`vote_entropy`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In [0, log(n_classes)].

    Examples
    --------
    >>> samples = [[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]]
    >>> bald(samples).round(4)
    array([0.6931, 0.    ])
    """
    return _score_blocks(check_committee_proba(proba), _bald_block)
