"""One protocol for every model the loop drives: fit / predict_proba / embed.

Selection needs three things of a model: class probabilities for the pool (uncertainty),
a vector per item (diversity), and for committee or Bayesian strategies one probability
table per member or per sample. Any scikit-learn classifier with ``predict_proba`` gives
the first; the functions here derive the other two where the model offers them:

- :func:`predict_proba` aligns columns to a class list, reads multi-label outputs
  (one-vs-rest ``(n, n_labels)`` or a list of per-label ``(n, 2)`` tables) as the
  probability that each label applies, and works over row chunks so memory stays flat.
- :func:`embed` uses the model's ``embed(X)``, else a pipeline's transform steps, else the
  features themselves.
- :func:`member_proba` stacks the members of a :class:`Committee`, an estimator that can
  sample predictions (:class:`SamplesProba`, e.g. MC dropout), or a fitted scikit-learn
  ensemble (``estimators_``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from labelloop.exceptions import ValidationError

__all__ = [
    "CHUNK_ROWS",
    "Committee",
    "Embeds",
    "Estimator",
    "SamplesProba",
    "class_list",
    "embed",
    "member_proba",
    "predict_proba",
]

# predict_proba on the pool runs over chunks of this many rows.
CHUNK_ROWS = 8192


@runtime_checkable
class Estimator(Protocol):
    """A classifier the loop can train and score the pool with."""

    def fit(self, X: Any, y: Any) -> Any: ...

    def predict_proba(self, X: Any) -> Any: ...


@runtime_checkable
class Embeds(Protocol):
    """A model that maps items to vectors for diversity strategies."""

    def embed(self, X: Any) -> Any: ...


@runtime_checkable
class SamplesProba(Protocol):
    """A model that can draw several predictions per item (MC dropout, an ensemble).

    ``sample_proba(X, n_samples, random_state=...)`` returns shape
    (n_samples, n_items, n_classes); :func:`labelloop.strategies.bald` scores it.
    """

    def sample_proba(self, X: Any, n_samples: int, *, random_state: Any = None) -> Any: ...


class Committee:
    """Several classifiers trained on the same labels; their disagreement picks items.

    Parameters
    ----------
    estimators : sequence of classifiers
        Unfitted scikit-learn classifiers with ``predict_proba``; each is cloned on `fit`.

    Attributes
    ----------
    estimators_ : list
        The fitted members.
    classes_ : ndarray
        The classes seen by `fit`, sorted.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X, y = load_iris(return_X_y=True)
    >>> committee = Committee([LogisticRegression(max_iter=500), GaussianNB()]).fit(X, y)
    >>> member_proba(committee, X[:5]).shape
    (2, 5, 3)
    """

    def __init__(self, estimators: Sequence[Any]) -> None:
        self.estimators = list(estimators)

    def fit(self, X: Any, y: Any) -> Committee:
        """Fit a clone of every member on ``X``, ``y``; returns self."""
        if not self.estimators:
            raise ValidationError("a committee needs at least one estimator", field="estimator")
        self.estimators_ = [clone(member).fit(X, y) for member in self.estimators]
        self.classes_ = getattr(self.estimators_[0], "classes_", None)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The members' mean probabilities, shape (n_samples, n_classes)."""
        return self.member_proba(X).mean(axis=0)

    def member_proba(self, X: Any) -> np.ndarray:
        """Every member's probabilities, shape (n_members, n_samples, n_classes)."""
        classes = self.classes_
        return np.stack([predict_proba(m, X, classes=classes) for m in self.estimators_])


def class_list(estimator: Any) -> np.ndarray | None:
    """The classes a fitted estimator predicts, in column order (None when it has none)."""
    classes = getattr(estimator, "classes_", None)
    if classes is None and isinstance(estimator, Pipeline):
        classes = getattr(estimator.steps[-1][1], "classes_", None)
    if classes is None or isinstance(classes, list):
        # Multi-output estimators list one class array per label.
        return None
    return np.asarray(classes)


def predict_proba(
    estimator: Any,
    X: Any,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    multilabel: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> np.ndarray:
    """Class probabilities of ``X`` in chunks, with columns in ``classes`` order.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict_proba``.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The items to score.
    classes : sequence, optional
        The column order wanted. Classes the estimator never saw get probability 0.
        Default: the estimator's ``classes_``.
    multilabel : bool, default=False
        Read the output as one probability per label: shape (n_samples, n_labels).
    chunk_rows : int, default=8192
        Rows per ``predict_proba`` call.

    Returns
    -------
    ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)

    Raises
    ------
    ValidationError
        The estimator returns NaN or infinite probabilities, or a shape that does not fit.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X, [1, 1, 2, 2])
    >>> predict_proba(model, X, classes=[0, 1, 2]).shape
    (4, 3)
    """
    n_rows = X.shape[0]
    parts = [
        _proba_block(estimator, X[start : start + chunk_rows], multilabel)
        for start in range(0, n_rows, chunk_rows)
    ]
    proba = np.concatenate(parts) if parts else np.empty((0, 0))
    if not np.isfinite(proba).all():
        raise ValidationError(
            "the estimator's predict_proba returned NaN or infinite probabilities; "
            "check the features for NaN and the model for divergence",
            field="estimator",
        )
    if multilabel or classes is None:
        return proba
    return _align_columns(proba, class_list(estimator), classes)


def _proba_block(estimator: Any, X: Any, multilabel: bool) -> np.ndarray:
    raw = estimator.predict_proba(X)
    if isinstance(raw, list):
        # Multi-output classifiers give one (n, n_values) table per label.
        columns = [
            np.asarray(t)[:, -1] if np.asarray(t).shape[1] > 1 else np.zeros(np.asarray(t).shape[0])
            for t in raw
        ]
        return np.column_stack(columns).astype(np.float64)
    proba = np.asarray(raw, dtype=np.float64)
    if proba.ndim != 2:
        raise ValidationError(
            f"the estimator's predict_proba returned shape {proba.shape}; "
            "expected (n_samples, n_classes)",
            field="estimator",
        )
    if proba.shape[0] != X.shape[0]:
        raise ValidationError(
            f"the estimator's predict_proba returned {proba.shape[0]} rows for {X.shape[0]} items",
            field="estimator",
        )
    return proba


def _align_columns(
    proba: np.ndarray, fitted: np.ndarray | None, wanted: Sequence[Any]
) -> np.ndarray:
    wanted = list(wanted)
    if fitted is None:
        if proba.shape[1] != len(wanted):
            raise ValidationError(
                f"the estimator gives {proba.shape[1]} probability columns for "
                f"{len(wanted)} classes",
                field="classes",
            )
        return proba
    if len(fitted) == len(wanted) and all(a == b for a, b in zip(fitted, wanted, strict=True)):
        return proba
    position = {_plain(c): i for i, c in enumerate(wanted)}
    out = np.zeros((proba.shape[0], len(wanted)), dtype=np.float64)
    for column, name in enumerate(fitted):
        if _plain(name) not in position:
            raise ValidationError(
                f"the estimator predicts class {name!r}, which is not among classes",
                field="classes",
            )
        out[:, position[_plain(name)]] = proba[:, column]
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def embed(estimator: Any, X: Any) -> Any:
    """Vectors for diversity strategies: the model's own embedding, or the features.

    Parameters
    ----------
    estimator : fitted model or None
        Its ``embed(X)`` is used when it has one; for a scikit-learn ``Pipeline`` the
        transform steps before the classifier; otherwise (and for None) ``X`` itself.
    X : array-like or sparse matrix of shape (n_samples, n_features)

    Returns
    -------
    ndarray or sparse matrix of shape (n_samples, n_dims)
        Sparse input stays sparse unless the model's own embedding densifies it.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]])
    >>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 0, 1, 1])
    >>> np.round(embed(model, X)[:, 1], 2).tolist()
    [-1.34, -0.45, 0.45, 1.34]
    """
    if estimator is not None and isinstance(estimator, Embeds):
        return estimator.embed(X)
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1].transform(X)
    if sp.issparse(X):
        return sp.csr_matrix(X)
    return np.asarray(X, dtype=np.float64)


def member_proba(
    estimator: Any,
    X: Any,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    n_samples: int = 10,
    random_state: Any = None,
) -> np.ndarray | None:
    """One probability table per committee member or per sampled prediction.

    Parameters
    ----------
    estimator : fitted model
        A :class:`Committee`, a model with ``sample_proba`` (:class:`SamplesProba`), or a
        fitted scikit-learn ensemble whose ``estimators_`` have ``predict_proba``.
    X : array-like or sparse matrix of shape (n_samples, n_features)
    classes : sequence, optional
        Column order, as in :func:`predict_proba`.
    n_samples : int, default=10
        Predictions drawn from a :class:`SamplesProba` model.
    random_state : int or Generator, optional
        Seed for the sampled predictions.

    Returns
    -------
    ndarray of shape (n_members, n_items, n_classes), or None
        None when the model is none of the above.
    """
    if isinstance(estimator, SamplesProba):
        stacked = np.asarray(
            estimator.sample_proba(X, n_samples, random_state=random_state), dtype=np.float64
        )
        fitted = class_list(estimator)
        if classes is not None and fitted is not None:
            stacked = np.stack([_align_columns(p, fitted, classes) for p in stacked])
    elif isinstance(estimator, Committee):
        stacked = estimator.member_proba(X)
        if classes is not None:
            stacked = np.stack([_align_columns(p, class_list(estimator), classes) for p in stacked])
    else:
        members = getattr(estimator, "estimators_", None)
        if not isinstance(members, list) or len(members) < 2:
            return None
        if not all(hasattr(m, "predict_proba") for m in members):
            return None
        fitted = class_list(estimator)
        tables = [predict_proba(m, X) for m in members]
        if fitted is None or any(t.shape[1] != len(fitted) for t in tables):
            return None
        stacked = np.stack(
            [t if classes is None else _align_columns(t, fitted, classes) for t in tables]
        )
    if not np.isfinite(stacked).all():
        raise ValidationError(
            "the estimator's member probabilities contain NaN or infinite values",
            field="estimator",
        )
    return stacked
