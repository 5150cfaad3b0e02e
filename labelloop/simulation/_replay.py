"""The oracle replay behind :func:`simulate`: the labelling loop with the true labels.

Rules kept here:

1. Every strategy of a seed sees the same split and the same initial labels (both drawn
   from the seed), so the curves compare strategies and nothing else.
2. Each strategy selects through :func:`labelloop.selection.select_chunked`, as every
   caller does; one chunk (the default) is the whole pool.
3. A model is refitted from a clone after every batch; while only one class is labelled
   a constant predictor stands in, and the selection sees no model (the cold start).
4. Every argument is checked before any fit, and a bad one raises a ValidationError
   naming it.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from labelloop.exceptions import ValidationError
from labelloop.selection import (
    check_chunk_size,
    check_strategy,
    check_xy,
    pool_chunks,
    select_chunked,
)
from labelloop.simulation._result import SimulationResult

__all__ = ["simulate"]

ProgressCallback = Callable[[int, int, str], None]


def simulate(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    strategy: str | Sequence[str] = "auto",
    initial: int = 10,
    batch: int = 10,
    budget: int = 300,
    X_test: Any = None,
    y_test: Any = None,
    test_size: float = 0.25,
    seeds: int | Sequence[int] = 5,
    scoring: str = "accuracy",
    random_state: int | None = None,
    progress: ProgressCallback | None = None,
    chunk_size: int | None = None,
) -> SimulationResult:
    """Replay the labelling loop with the true labels as the oracle.

    For each seed: split off a test set (unless ``X_test`` is given), draw ``initial``
    random labels from the training pool, then for each strategy repeatedly pick
    ``batch`` items, reveal their labels, refit a clone of ``estimator`` and score it,
    until ``budget`` labels are used. A random baseline is not added implicitly: ask for
    ``"random"`` in ``strategy`` to compare against it.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Unfitted; cloned for every fit. Any classifier with ``predict_proba``.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The items (the training pool, plus the test set when ``X_test`` is None).
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Their true labels (a 0/1 indicator matrix for multi-label).
    strategy : str or sequence of str, default="auto"
        One or more of :data:`labelloop.selection.STRATEGY_NAMES`.
    initial : int, default=10
        Random labels every strategy starts from (0 starts from nothing).
    batch : int, default=10
        Items picked per round.
    budget : int, default=300
        Labels used in total, the initial ones included; capped at the pool size.
    X_test, y_test : optional
        A fixed test set; otherwise ``test_size`` of ``X`` is held out per seed
        (stratified for single-label data).
    test_size : float, default=0.25
        Fraction held out when no test set is given.
    seeds : int or sequence of int, default=5
        A count (seeds ``random_state``, ``random_state + 1``, ...) or the seeds to run.
    scoring : str, default="accuracy"
        Any scikit-learn scorer name, e.g. ``"f1_macro"`` for imbalanced data.
    random_state : int, optional
        First seed when ``seeds`` is a count (default 0); seeds are non-negative ints.
    progress : callable, optional
        Called as ``progress(done, total, description)`` after every round, for
        progress bars.
    chunk_size : int, optional
        Score the pool this many items at a time, as the engine's rounds do: each chunk
        proposes a batch and the batch is picked among the proposals
        (:func:`labelloop.selection.select_chunked`). None (the default) scores the whole
        pool at once.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValidationError
        Mismatched shapes, an unknown strategy or scorer, a single class, a budget not
        above ``initial``, or sizes out of range. Each names its argument.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_digits(return_X_y=True)
    >>> result = simulate(LogisticRegression(max_iter=300), X / 16, y, strategy="margin",
    ...                   initial=20, batch=20, budget=60, seeds=1, random_state=0)
    >>> [row["n_labels"] for row in result.curves]
    [20, 40, 60]
    """
    names = _check_strategies(strategy)
    X, y = _check_xy(X, y, "X", "y")
    seed_list = _check_seeds(seeds, random_state)
    scorer = _check_scoring(scoring)
    chunk_size = check_chunk_size(chunk_size)
    if progress is not None and not callable(progress):
        raise ValidationError("progress must be a callable or None", field="progress")
    for name, value, low in (("initial", initial, 0), ("batch", batch, 1), ("budget", budget, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValidationError(f"{name} must be an int >= {low}, got {value!r}", field=name)
    if budget <= initial:
        raise ValidationError(
            f"budget ({budget}) must be larger than initial ({initial})", field="budget"
        )
    if (X_test is None) != (y_test is None):
        raise ValidationError("pass both X_test and y_test, or neither", field="X_test")
    if X_test is not None:
        X_test, y_test = _check_xy(X_test, y_test, "X_test", "y_test")
        if X_test.shape[1] != X.shape[1]:
            raise ValidationError(
                f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}", field="X_test"
            )
    elif (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0 < test_size < 1
    ):
        raise ValidationError(f"test_size must be in (0, 1), got {test_size}", field="test_size")

    multilabel = y.ndim == 2
    classes = None if multilabel else np.unique(y).tolist()
    n_train = X.shape[0] if X_test is not None else X.shape[0] - int(np.ceil(test_size * len(y)))
    rounds = len(_label_counts(initial, batch, min(budget, n_train)))
    total = rounds * len(names) * len(seed_list)
    curves: list[dict[str, Any]] = []
    full_scores: dict[int, float] = {}
    seconds = dict.fromkeys(names, 0.0)
    done = 0
    # Many small fits: one thread each (BLAS, OpenMP) is far faster than threads fighting for cores.
    with threadpool_limits(limits=1):
        for seed in seed_list:
            X_pool, y_pool, X_eval, y_eval = _split(
                X, y, X_test, y_test, test_size, seed, multilabel
            )
            full_scores[seed] = float(scorer(clone(estimator).fit(X_pool, y_pool), X_eval, y_eval))
            initial_set = np.random.default_rng(seed).choice(
                y_pool.shape[0], size=min(initial, y_pool.shape[0]), replace=False
            )
            for name in names:
                started = time.perf_counter()
                for n_labels, score in _run_strategy(
                    name,
                    estimator,
                    X_pool,
                    y_pool,
                    X_eval,
                    y_eval,
                    initial_set,
                    batch,
                    budget,
                    classes,
                    scorer,
                    seed,
                    chunk_size,
                ):
                    curves.append(
                        {"strategy": name, "seed": seed, "n_labels": n_labels, "score": score}
                    )
                    done += 1
                    if progress is not None:
                        progress(done, total, f"{name}, seed {seed}: {n_labels} labels")
                seconds[name] += time.perf_counter() - started
    return SimulationResult(curves, full_scores, names, tuple(seed_list), scoring, seconds)


def _label_counts(initial: int, batch: int, budget: int) -> list[int]:
    counts = [initial] if initial > 0 else []
    n = initial
    while n < budget:
        n = min(n + batch, budget)
        counts.append(n)
    return counts


def _run_strategy(
    name: str,
    estimator: Any,
    X_pool: Any,
    y_pool: np.ndarray,
    X_eval: Any,
    y_eval: np.ndarray,
    initial_set: np.ndarray,
    batch: int,
    budget: int,
    classes: list[Any] | None,
    scorer: Any,
    seed: int,
    chunk_size: int | None,
) -> Iterable[tuple[int, float]]:
    """Yield (labels used, test score) after the initial set and after every batch."""
    rng = np.random.default_rng(seed)
    n_total = y_pool.shape[0]
    budget = min(budget, n_total)
    labelled = np.zeros(n_total, dtype=bool)
    labelled[initial_set] = True
    order = list(initial_set)
    state: dict | None = None
    model = _fit(estimator, X_pool[order], y_pool[order]) if order else None
    if order:
        yield len(order), float(scorer(model, X_eval, y_eval))
    while len(order) < budget:
        pool_index = np.flatnonzero(~labelled)
        k = min(batch, budget - len(order))
        usable = model if model is not None and not isinstance(model, DummyClassifier) else None
        chosen = select_chunked(
            name,
            usable,
            X_pool[order] if order else X_pool[:0],
            y_pool[order] if order else y_pool[:0],
            pool_chunks(X_pool[pool_index], chunk_size=chunk_size),
            k,
            state=state,
            classes=classes,
            random_state=rng,
        )
        state = chosen.state
        picked = pool_index[chosen.batch_ids]
        labelled[picked] = True
        order.extend(int(i) for i in picked)
        model = _fit(estimator, X_pool[order], y_pool[order])
        yield len(order), float(scorer(model, X_eval, y_eval))


def _fit(estimator: Any, X: Any, y: np.ndarray) -> Any:
    """A fitted clone, or a constant predictor while only one class is labelled."""
    if y.ndim == 1 and np.unique(y).size < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    return clone(estimator).fit(X, y)


def _split(X, y, X_test, y_test, test_size, seed, multilabel):
    if X_test is not None:
        return X, y, X_test, y_test
    stratify = None
    if not multilabel:
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 else None
    X_pool, X_eval, y_pool, y_eval = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=stratify
    )
    return X_pool, y_pool, X_eval, y_eval


def _check_strategies(strategy: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(strategy, str):
        names = [strategy]
    elif isinstance(strategy, Iterable):
        names = list(strategy)
    else:
        raise ValidationError(
            f"strategy must be a strategy name or a sequence of names, got {strategy!r}",
            field="strategy",
        )
    if not names:
        raise ValidationError("strategy names no strategy to run", field="strategy")
    checked = tuple(dict.fromkeys(check_strategy(name) for name in names))
    return checked


def _check_xy(X: Any, y: Any, x_name: str, y_name: str) -> tuple[Any, np.ndarray]:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    X, y = check_xy(X, y, x_name=x_name, y_name=y_name)
    if y.ndim == 1 and np.unique(y).size < 2:
        raise ValidationError(
            f"{y_name} holds a single class; a classifier needs at least two", field=y_name
        )
    return X, y


def _is_seed(value: Any) -> bool:
    # The seeds reach numpy and scikit-learn, which refuse negative ones with a bare error.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def _check_seeds(seeds: int | Sequence[int], random_state: int | None) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValidationError(f"seeds must be at least 1, got {seeds}", field="seeds")
        if random_state is not None and not _is_seed(random_state):
            raise ValidationError(
                f"random_state must be None or a non-negative int seed, got {random_state!r}",
                field="random_state",
            )
        first = 0 if random_state is None else int(random_state)
        return list(range(first, first + int(seeds)))
    try:
        seed_list = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ValidationError(
            "seeds must be a count or a sequence of int seeds", field="seeds"
        ) from None
    if not all(_is_seed(s) for s in seed_list):
        raise ValidationError(
            f"seeds must be non-negative int seeds, got {seed_list}", field="seeds"
        )
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ValidationError("seeds must be a non-empty sequence of distinct ints", field="seeds")
    return seed_list


def _check_scoring(scoring: str) -> Any:
    try:
        scorer = get_scorer(scoring)
    except (ValueError, TypeError):
        scorer = None
    # get_scorer hands back anything that is not a name, None included, as the scorer.
    if not callable(scorer):
        raise ValidationError(
            f"unknown scoring {scoring!r}: use a scikit-learn scorer name such as "
            "'accuracy' or 'f1_macro'",
            field="scoring",
        )
    return scorer
