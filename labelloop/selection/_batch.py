"""The strategy names and :func:`select_batch`, the one entry point from a name to a batch.

Rules kept here:

1. :data:`STRATEGY_NAMES` is the registry: the learner, ``simulate``, the CLI, the server
   and the engine accept exactly these names (:func:`check_strategy`).
2. Every argument is checked before anything is computed, and bad input raises
   :class:`labelloop.exceptions.ValidationError` naming the argument: the checks of
   ``k`` and ``random_state`` are the strategies' own.
3. ``random`` never asks the model; without a model every other strategy picks cold-start
   cluster representatives; ``auto`` adapts (``labelloop.selection._auto``).
4. Sparse pools stay sparse: they are never densified whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.selection._auto import select_auto
from labelloop.selection._auto_extras import RARE_CLASSES, AutoOptions
from labelloop.selection._context import Selection, SelectionContext
from labelloop.selection._named import pick_cold_start, pick_named, pick_random
from labelloop.strategies._validation import check_finite, check_k, check_random_state
from labelloop.strategies.groups import GROUP_SAMPLING

__all__ = [
    "STRATEGY_NAMES",
    "check_auto_options",
    "check_classes",
    "check_features",
    "check_state",
    "check_strategy",
    "check_xy",
    "select_batch",
]

STRATEGY_NAMES: tuple[str, ...] = (
    "auto",
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "ratio",
    "vote_entropy",
    "kl_disagreement",
    "bald",
    "k_center",
    "cluster_margin",
    "badge",
)


def check_strategy(name: str) -> str:
    """Return ``name`` if it is a known strategy.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGY_NAMES`.

    Raises
    ------
    ValidationError
        ``field="strategy"`` when the name is unknown.

    Examples
    --------
    >>> check_strategy("margin")
    'margin'
    """
    if not isinstance(name, str) or name not in STRATEGY_NAMES:
        raise ValidationError(
            f"unknown strategy {name!r}: use one of {', '.join(STRATEGY_NAMES)}",
            field="strategy",
        )
    return name


def select_batch(
    strategy: str,
    estimator: Any,
    X_labelled: Any,
    y_labelled: Any,
    X_pool: Any,
    k: int,
    *,
    state: dict | None = None,
    classes: Sequence[Any] | None = None,
    random_state: None | int | np.random.Generator = None,
    rare_classes: str = "off",
    group_sampling: str = "off",
    pool_groups: Sequence[Any] | None = None,
    labelled_groups: Sequence[Any] | None = None,
    group_scores: Mapping[Any, float] | None = None,
) -> Selection:
    """Pick ``k`` pool items for humans to label next.

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGY_NAMES`; ``"auto"`` adapts to the data (package docstring).
    estimator : fitted classifier or None
        Fitted on ``X_labelled``, ``y_labelled``; anything with ``predict_proba``. A
        :class:`labelloop.models.Committee` (or a fitted scikit-learn ensemble) serves
        ``vote_entropy`` and ``kl_disagreement``; a model with ``sample_proba`` serves
        ``bald``. None means no usable model yet: every strategy but ``random`` then
        picks cold-start cluster representatives. The model is never refitted here.
    X_labelled : array-like or sparse matrix of shape (n_labelled, n_features)
        The items labelled so far (may have no rows).
    y_labelled : array-like of shape (n_labelled,) or (n_labelled, n_labels)
        Their labels; a 2-D 0/1 indicator matrix means multi-label.
    X_pool : array-like or sparse matrix of shape (n_pool, n_features)
        The unlabelled items to choose from. Sparse pools are never densified whole.
    k : int
        How many items to pick, 1 <= k <= n_pool.
    state : dict, optional
        The ``state`` of the previous :class:`Selection` (used by ``"auto"``).
    classes : sequence, optional
        Every class of the task (single-label) or every label name (multi-label), in
        probability column order. Default: the estimator's ``classes_``.
    random_state : None, int or numpy.random.Generator
        Seed (a non-negative int) or generator for tie-breaks, clustering and random
        picks; a generator is used, and advanced, as is.

    Returns
    -------
    Selection

    Raises
    ------
    ValidationError
        An unknown strategy, ``k`` outside [1, n_pool], shapes that do not match,
        ``classes`` that is not a sequence, a ``random_state`` that is not None, a
        non-negative int or a Generator, a ``state`` that no selection left, an estimator
        without ``predict_proba`` where probabilities are needed, NaN probabilities, or a
        committee strategy without a committee. Each names its field.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> labelled = [0, 1, 50, 51, 100, 101]
    >>> model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    >>> picked = select_batch("margin", model, X[labelled], y[labelled], X, 3, random_state=0)
    >>> picked.indices.shape, picked.strategy
    ((3,), 'margin')
    """
    strategy = check_strategy(strategy)
    X_pool = check_features(X_pool, "X_pool")
    n_pool = X_pool.shape[0]
    k = check_k(k, n_pool)
    X_labelled, y_labelled = _check_labelled(X_labelled, y_labelled, X_pool.shape[1])
    classes = check_classes(classes)
    state = check_state(state)
    rng = check_random_state(random_state)
    options = check_auto_options(
        rare_classes,
        group_sampling,
        pool_groups,
        labelled_groups,
        group_scores,
        n_pool=n_pool,
        n_labelled=X_labelled.shape[0],
    )
    context = SelectionContext(estimator, X_labelled, y_labelled, X_pool, classes, rng)
    if strategy == "random":
        return pick_random(context, k)
    if strategy == "auto":
        return select_auto(context, k, state or {}, options)
    if estimator is None:
        return pick_cold_start(context, k)
    return pick_named(strategy, context, k)


def check_auto_options(
    rare_classes: Any,
    group_sampling: Any,
    pool_groups: Any = None,
    labelled_groups: Any = None,
    group_scores: Any = None,
    *,
    n_pool: int | None = None,
    n_labelled: int | None = None,
) -> AutoOptions:
    """The options of ``auto`` as :class:`AutoOptions`, each checked and named if wrong."""
    if rare_classes not in RARE_CLASSES:
        raise ValidationError(
            f"rare_classes must be one of {', '.join(RARE_CLASSES)}, got {rare_classes!r}",
            field="rare_classes",
        )
    if group_sampling not in GROUP_SAMPLING:
        raise ValidationError(
            f"group_sampling must be one of {', '.join(GROUP_SAMPLING)}, got {group_sampling!r}",
            field="group_sampling",
        )
    for name, groups, size in (
        ("pool_groups", pool_groups, n_pool),
        ("labelled_groups", labelled_groups, n_labelled),
    ):
        if groups is None:
            continue
        if isinstance(groups, str | bytes) or not hasattr(groups, "__len__"):
            raise ValidationError(f"{name} must be a sequence of groups", field=name)
        if size is not None and len(groups) != size:
            raise ValidationError(f"{name} has {len(groups)} groups for {size} rows", field=name)
    if group_scores is not None and not isinstance(group_scores, Mapping):
        raise ValidationError("group_scores must map each group to a score", field="group_scores")
    if group_sampling != "off" and pool_groups is None:
        raise ValidationError(
            f"group_sampling={group_sampling!r} needs pool_groups", field="pool_groups"
        )
    if group_sampling == "minmax" and not group_scores:
        raise ValidationError(
            "group_sampling='minmax' needs group_scores (each group's score on the evaluation set)",
            field="group_scores",
        )
    return AutoOptions(
        rare_classes=rare_classes,
        group_sampling=group_sampling,
        pool_groups=None if pool_groups is None else list(pool_groups),
        labelled_groups=None if labelled_groups is None else list(labelled_groups),
        group_scores=None if group_scores is None else dict(group_scores),
    )


def check_features(X: Any, name: str) -> Any:
    """Return ``X`` as a 2-D array, or a CSR matrix for sparse input (any dtype); numeric
    features must be finite."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
    else:
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{name} must be a 2-D array: {exc}", field=name) from None
        if X.ndim == 1 and X.size == 0:
            X = X.reshape(0, 0)
        if X.ndim != 2:
            raise ValidationError(
                f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}", field=name
            )
    check_finite(X, name=name)
    return X


def check_xy(X: Any, y: Any, *, x_name: str = "X", y_name: str = "y") -> tuple[Any, np.ndarray]:
    """Return ``X`` as a 2-D array (a CSR matrix if sparse) and ``y`` as an array of one
    label (1-D) or one indicator row (2-D, multi-label) per row of ``X``; numeric features
    must be finite and every label given (no None or NaN)."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValidationError(
                f"{x_name} must be 2-D (n_samples, n_features), got shape {X.shape}",
                field=x_name,
            )
    check_finite(X, name=x_name)
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValidationError(
            f"{y_name} has shape {y.shape} for {X.shape[0]} rows of {x_name}; they must match",
            field=y_name,
        )
    _check_labels_given(y, y_name)
    return X, y


def _check_labels_given(y: np.ndarray, name: str) -> None:
    if y.dtype.kind == "O":
        missing = np.flatnonzero(
            [v is None or (isinstance(v, float) and v != v) for v in y.ravel().tolist()]
        )
    elif y.dtype.kind in "fc":
        missing = np.flatnonzero(~np.isfinite(y.ravel()))
    else:
        return
    if missing.size:
        row = int(missing[0]) // max(int(np.prod(y.shape[1:])), 1)
        raise ValidationError(
            f"{name} has {missing.size} missing label(s) (None or NaN), the first in row "
            f"{row}: every row needs its label",
            field=name,
        )


def check_classes(classes: Any) -> Sequence[Any] | None:
    """Return ``classes`` if it is None or a 1-D sequence (a list, a tuple, an array)."""
    if classes is not None and np.ndim(classes) != 1:
        raise ValidationError(
            f"classes must be a sequence of every class (or label name), got {classes!r}",
            field="classes",
        )
    return classes


def check_state(state: Any) -> dict | None:
    """Return ``state`` if it is None or a dict (what a previous Selection left)."""
    if state is not None and not isinstance(state, dict):
        raise ValidationError(
            f"state must be the dict of the previous Selection or None, got {type(state).__name__}",
            field="state",
        )
    return state


def _check_labelled(X: Any, y: Any, n_features: int) -> tuple[Any, np.ndarray]:
    if X is None or (not sp.issparse(X) and np.size(X) == 0):
        X = sp.csr_matrix((0, n_features)) if X is None else np.empty((0, n_features))
    X = check_features(X, "X_labelled")
    y = np.asarray([] if y is None else y)
    if X.shape[0] and X.shape[1] != n_features:
        raise ValidationError(
            f"X_labelled has {X.shape[1]} features but X_pool has {n_features}",
            field="X_labelled",
        )
    if y.shape[0] != X.shape[0]:
        raise ValidationError(
            f"y_labelled has {y.shape[0]} labels for {X.shape[0]} rows of X_labelled",
            field="y_labelled",
        )
    if y.ndim > 2:
        raise ValidationError(
            f"y_labelled must be 1-D, or 2-D for multi-label, got shape {y.shape}",
            field="y_labelled",
        )
    return X, y
