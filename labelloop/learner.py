"""The in-memory labelling loop for library users: fit, query, teach, repeat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from labelloop.exceptions import ConflictError, PoolExhaustedError, ValidationError
from labelloop.models.adapters import Committee
from labelloop.selection import (
    Selection,
    check_chunk_size,
    check_classes,
    check_strategy,
    check_xy,
    pool_chunks,
    select_chunked,
)
from labelloop.strategies._validation import check_random_state

__all__ = ["ActiveLearner"]


class ActiveLearner:
    """A classifier that asks for the labels it needs most.

    ``fit`` trains on the labels you have (possibly none), ``query`` picks the pool items
    a human should label next, ``teach`` adds their labels and retrains. Every ``query``
    must be followed by a ``teach`` before the next ``query``.

    Parameters
    ----------
    estimator : scikit-learn classifier or list of classifiers
        Any classifier with ``predict_proba``; it is cloned, never modified. A list
        makes a :class:`labelloop.models.Committee` (for ``vote_entropy`` and
        ``kl_disagreement``); a model with ``sample_proba`` serves ``bald``.
    strategy : str, default="auto"
        One of :data:`labelloop.selection.STRATEGY_NAMES`.
    random_state : None, int or numpy.random.Generator
        Seed (a non-negative int) that makes every query reproducible.
    classes : sequence, optional
        Every class of the task (or label names for multi-label), when the first labels
        may not show them all; the cold start lasts until the model can be trusted.
    chunk_size : int, optional
        Score the pool this many items at a time: each chunk proposes a batch and the
        batch is picked among the proposals (:func:`labelloop.selection.select_chunked`).
        None (the default) scores the whole pool at once.

    Attributes
    ----------
    estimator_ : fitted classifier or None
        None while the labels cannot train a classifier (no labels, a single class):
        queries then pick cold-start cluster representatives.
    X_labelled_, y_labelled_ : arrays
        Everything taught so far.
    last_selection_ : Selection or None
        The most recent query's batch, with a reason per pick.

    Raises
    ------
    ConflictError
        ``query`` twice without ``teach`` in between, or ``teach`` without a ``query``.
    PoolExhaustedError
        ``query`` on an empty pool.
    ValidationError
        Unknown strategy names, a ``random_state`` that is not None, a non-negative int
        or a Generator, a ``chunk_size`` below 1, mismatched shapes, NaN probabilities,
        ``n`` larger than the pool; each names the argument.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(LogisticRegression(max_iter=500), random_state=0)
    >>> learner = learner.fit(X[:0], y[:0])          # no labels yet: cold start
    >>> picked = learner.query(X, 6)
    >>> learner = learner.teach(X[picked], y[picked])
    >>> learner.last_selection_.strategy
    'cold-start'
    >>> picked, scores = learner.query(X, 3, return_scores=True)
    >>> scores.shape
    (150,)
    """

    def __init__(
        self,
        estimator: Any,
        strategy: str = "auto",
        random_state: None | int | np.random.Generator = None,
        *,
        classes: Sequence[Any] | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.strategy = strategy
        self.random_state = random_state
        self.classes = classes
        self.chunk_size = chunk_size

    # --- the loop --------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> ActiveLearner:
        """Train on the labels so far (any number, even none); returns self.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels; a 0/1 indicator matrix for multi-label.
        """
        check_strategy(self.strategy)
        check_chunk_size(self.chunk_size)
        check_classes(self.classes)
        rng = check_random_state(self.random_state)
        X, y = check_xy(X, y)
        self.X_labelled_ = X
        self.y_labelled_ = y
        self.n_features_in_ = X.shape[1]
        self.selection_state_: dict = {}
        self.last_selection_: Selection | None = None
        self.pending_: np.ndarray | None = None
        self._rng = rng
        self._refit()
        return self

    def query(
        self, X_pool: Any, n: int, *, return_scores: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Pick ``n`` items of ``X_pool`` for a human to label next.

        Parameters
        ----------
        X_pool : array-like or sparse matrix of shape (n_pool, n_features)
            The unlabelled items.
        n : int
            How many to pick, 1 <= n <= n_pool.
        return_scores : bool, default=False
            Also return the informativeness of every pool item.

        Returns
        -------
        indices : ndarray of shape (n,)
            Indices into ``X_pool``, most useful first.
        scores : ndarray of shape (n_pool,)
            Only with ``return_scores=True``; higher means ask first.
        """
        self._check_fitted()
        if self.pending_ is not None:
            raise ConflictError(
                "the previous query has not been answered: call teach(X, y) with its labels "
                "before querying again"
            )
        if X_pool is not None and not sp.issparse(X_pool):
            X_pool = np.asarray(X_pool)
        if X_pool is None or (X_pool.ndim and X_pool.shape[0] == 0):
            raise PoolExhaustedError("the pool is empty: every item is labelled")
        if X_pool.ndim != 2:
            raise ValidationError(
                f"X_pool must be 2-D (n_pool, n_features), got shape {X_pool.shape}",
                field="X_pool",
            )
        if isinstance(n, int | np.integer) and not isinstance(n, bool) and n > X_pool.shape[0]:
            raise ValidationError(
                f"n={n} is larger than the pool ({X_pool.shape[0]} items)", field="n"
            )
        if X_pool.shape[1] != self.n_features_in_ and self.y_labelled_.shape[0]:
            raise ValidationError(
                f"X_pool has {X_pool.shape[1]} features but the learner was fitted on "
                f"{self.n_features_in_}",
                field="X_pool",
            )
        try:
            selection = select_chunked(
                self.strategy,
                self.estimator_,
                self.X_labelled_,
                self.y_labelled_,
                pool_chunks(X_pool, chunk_size=self.chunk_size),
                n,
                state=self.selection_state_ if self.strategy == "auto" else None,
                classes=self.classes_,
                random_state=self._rng,
            ).to_selection()
        except ValidationError as error:
            if error.field == "k":
                raise ValidationError(str(error).replace("k=", "n=", 1), field="n") from None
            raise
        self.selection_state_ = selection.state
        self.last_selection_ = selection
        self.pending_ = selection.indices
        if return_scores:
            return selection.indices, selection.scores
        return selection.indices

    def teach(self, X: Any, y: Any) -> ActiveLearner:
        """Add the labels of the queried items (or some of them) and retrain; returns self.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_new, n_features)
        y : array-like of shape (n_new,) or (n_new, n_labels)
        """
        self._check_fitted()
        if self.pending_ is None:
            raise ConflictError(
                "teach() answers a query: call query() first, or fit() to train on labels "
                "gathered outside the loop"
            )
        X, y = check_xy(X, y)
        if X.shape[1] != self.n_features_in_ and self.y_labelled_.shape[0]:
            raise ValidationError(
                f"X has {X.shape[1]} features but the learner was fitted on {self.n_features_in_}",
                field="X",
            )
        if self.y_labelled_.shape[0] and y.ndim != self.y_labelled_.ndim:
            raise ValidationError(
                f"y has shape {y.shape}; the labels taught so far have "
                f"{self.y_labelled_.ndim} dimension(s)",
                field="y",
            )
        self.X_labelled_ = _stack(self.X_labelled_, X)
        self.y_labelled_ = np.concatenate([self.y_labelled_, y]) if y.shape[0] else self.y_labelled_
        self.n_features_in_ = self.X_labelled_.shape[1]
        self.pending_ = None
        self._refit()
        return self

    # --- the model -------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Labels predicted by the current model."""
        return self._trained().predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the current model."""
        return self._trained().predict_proba(X)

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of the current model on ``X``, ``y`` (subset accuracy if multi-label)."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X)))

    @property
    def n_labelled_(self) -> int:
        """How many labels the learner has been taught."""
        self._check_fitted()
        return int(self.y_labelled_.shape[0])

    def _refit(self) -> None:
        y = self.y_labelled_
        multilabel = y.ndim == 2
        if self.classes is not None:
            self.classes_ = list(self.classes)
        elif multilabel or y.shape[0] == 0:
            self.classes_ = None
        else:
            self.classes_ = np.unique(y).tolist()
        trainable = y.shape[0] > 0 and (multilabel or np.unique(y).size >= 2)
        if not trainable:
            self.estimator_ = None
            return
        if isinstance(self.estimator, list | tuple):
            model: Any = Committee(self.estimator)
        else:
            model = clone(self.estimator, safe=False)
        self.estimator_ = model.fit(self.X_labelled_, y)

    def _check_fitted(self) -> None:
        if not hasattr(self, "y_labelled_"):
            raise ConflictError("call fit(X, y) first (X and y may be empty)")

    def _trained(self) -> Any:
        self._check_fitted()
        if self.estimator_ is None:
            raise ConflictError(
                "the model is not trained yet: it needs labels of at least two classes"
            )
        return self.estimator_


def _stack(old: Any, new: Any) -> Any:
    if old.shape[0] == 0:
        return new
    if sp.issparse(old) or sp.issparse(new):
        return sp.vstack([sp.csr_matrix(old), sp.csr_matrix(new)], format="csr")
    return np.vstack([old, new])
