"""Label errors by confident learning: out-of-fold probabilities, then cleanlab's ranking.

Rules
-----
1. Probabilities used to judge a label never come from a model that saw that label:
   `out_of_fold_probabilities` fits one clone of the estimator per fold (stratified,
   at most ``n_folds``, never more than the rarest class allows).
2. The cost is bounded: with more than ``max_items`` labels, a seeded random sample of
   ``max_items`` of them is checked (the rest keep no probabilities, NaN rows), so a
   check costs ``n_folds`` fits on at most ``max_items`` rows whatever the project's size.
3. Quality is cleanlab's ``get_label_quality_scores`` (0: surely wrong, 1: surely right)
   and the flags are cleanlab's ``find_label_issues`` on the same probabilities; the
   ranking is by quality, lowest first. Nothing here re-implements confident learning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_proba, check_random_state

__all__ = ["LabelIssues", "out_of_fold_probabilities", "rank_label_issues"]


@dataclass(frozen=True)
class LabelIssues:
    """Labels ranked by quality.

    Attributes
    ----------
    quality : ndarray of shape (n_samples,)
        cleanlab's label quality score, in [0, 1]; low means the label is likely wrong.
    is_issue : ndarray of bool, shape (n_samples,)
        cleanlab's ``find_label_issues`` flags.
    suggested : ndarray of int, shape (n_samples,)
        The most probable class of each row (the label a reviewer is offered).
    ranked : ndarray of int
        Indices of the flagged rows, lowest quality first.
    """

    quality: np.ndarray
    is_issue: np.ndarray
    suggested: np.ndarray
    ranked: np.ndarray


def _check_labels(labels: Any, n_classes: int | None = None) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValidationError(
            "labels must be a non-empty 1-d array of class indices (int)", field="labels"
        )
    if array.min() < 0 or (n_classes is not None and array.max() >= n_classes):
        bad = int(np.flatnonzero((array < 0) | (array >= (n_classes or np.inf)))[0])
        raise ValidationError(
            f"labels[{bad}] = {array[bad]} is not a column of pred_probs (0..{n_classes - 1})"
            if n_classes
            else f"labels[{bad}] is negative",
            field=f"labels.{bad}",
        )
    return array.astype(np.int64)


def out_of_fold_probabilities(
    estimator: Any,
    X: Any,
    labels: Any,
    *,
    n_classes: int | None = None,
    n_folds: int = 5,
    max_items: int | None = None,
    random_state: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Predicted probabilities of each labelled row by a model that did not see it.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Cloned once per fold; it is not fitted itself.
    X : array-like or sparse matrix of shape (n_samples, n_features)
    labels : array-like of int, shape (n_samples,)
        Class indices ``0 .. n_classes - 1``.
    n_classes : int, optional
        Columns of the result (default: ``labels.max() + 1``).
    n_folds : int
        At most this many folds (at least 2).
    max_items : int, optional
        Check at most this many rows, a seeded random sample (rule 2).
    random_state : int, Generator or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Rows not sampled are NaN.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))]
    >>> proba = out_of_fold_probabilities(LogisticRegression(), X, [0] * 6 + [1] * 6, n_folds=3)
    >>> proba.shape
    (12, 2)
    """
    y = _check_labels(labels, n_classes)
    n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ValidationError(f"n_folds must be an int >= 2, got {n_folds!r}", field="n_folds")
    if max_items is not None and (not isinstance(max_items, int) or max_items < 2):
        raise ValidationError(
            f"max_items must be an int >= 2 or None, got {max_items!r}", field="max_items"
        )
    if X.shape[0] != y.shape[0]:
        raise ValidationError(
            f"X has {X.shape[0]} rows but labels has {y.shape[0]}", field="labels"
        )
    rng = check_random_state(random_state)
    rows = np.arange(y.size)
    if max_items is not None and y.size > max_items:
        rows = np.sort(rng.choice(y.size, size=max_items, replace=False))
    result = np.full((y.size, n_classes), np.nan)
    result[rows] = _out_of_fold(estimator, X[rows], y[rows], n_classes, n_folds, rng)
    return result


def _out_of_fold(
    estimator: Any, X: Any, y: np.ndarray, n_classes: int, n_folds: int, rng: np.random.Generator
) -> np.ndarray:
    """Out-of-fold probabilities on validated rows; classes a fold never saw get 0."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    present, counts = np.unique(y, return_counts=True)
    folds = max(2, min(n_folds, int(counts.max())))
    splitter = StratifiedKFold(
        n_splits=min(folds, y.size), shuffle=True, random_state=int(rng.integers(2**31))
    )
    proba = np.zeros((y.size, n_classes))
    with warnings.catch_warnings():
        # A class rarer than the folds is allowed: its rows are judged by the others.
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(np.zeros(y.size), y))
    for fit_rows, held_rows in splits:
        classes = np.unique(y[fit_rows])
        if classes.size < 2:  # nothing to learn: say nothing about these rows
            proba[held_rows] = 1.0 / n_classes
            continue
        model = clone(estimator).fit(X[fit_rows], y[fit_rows])
        proba[np.ix_(held_rows, model.classes_.astype(np.int64))] = model.predict_proba(
            X[held_rows]
        )
    return proba


def rank_label_issues(labels: Any, pred_probs: Any) -> LabelIssues:
    """Rank labels by cleanlab's quality score and flag the likely wrong ones.

    Parameters
    ----------
    labels : array-like of int, shape (n_samples,)
        The given labels as class indices.
    pred_probs : array-like of shape (n_samples, n_classes)
        Out-of-fold probabilities (`out_of_fold_probabilities`); rows sum to 1.

    Returns
    -------
    LabelIssues

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5)
    >>> issues = rank_label_issues([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], probs)
    >>> issues.ranked.tolist()
    [4]
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    proba = check_proba(pred_probs, name="pred_probs")
    y = _check_labels(labels, proba.shape[1])
    if y.size != proba.shape[0]:
        raise ValidationError(
            f"labels has {y.size} rows but pred_probs has {proba.shape[0]}", field="labels"
        )
    quality = np.asarray(get_label_quality_scores(y, proba), dtype=float)
    with warnings.catch_warnings():
        # cleanlab warns about classes with few labels; the flags stay valid.
        warnings.simplefilter("ignore")
        # n_jobs=1: cleanlab would otherwise fork a multiprocessing pool, and a fork from
        # a threaded process (the server's job worker) can deadlock the child on a lock
        # another thread held, leaving the retrain running forever.
        is_issue = np.asarray(find_label_issues(y, proba, n_jobs=1), dtype=bool)
    flagged = np.flatnonzero(is_issue)
    ranked = flagged[np.argsort(quality[flagged], kind="stable")]
    return LabelIssues(
        quality=quality, is_issue=is_issue, suggested=proba.argmax(axis=1), ranked=ranked
    )
