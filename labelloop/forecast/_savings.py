"""Labels saved against random sampling, estimated from a random sample the project holds.

A project's evaluation set is a random sample of its pool, so a model fitted on random
subsets of the labelled evaluation items, and scored on the rest of them, traces the
learning curve random sampling would have had. Its fitted curve, inverted at the score
the project's model reached, says how many labels random sampling would have needed.

Rules
-----
1. `random_curve_points` fits a clone of the estimator on ``repeats`` random subsets of
   each size and scores it on the items left out; a draw with fewer than two classes is
   drawn again (up to ten times) and then skipped. Sizes run geometrically from
   ``max(10, 2 x classes)`` to 70% of the items, so at least 30% stay to score on.
2. `savings_against_random` fits the random curve with the rising families only
   (`RISING_FAMILIES`: no ``flat``) and inverts it at the project's score: the count
   random sampling needed, with its interval from the curve's bootstrap (rule 4 of
   `labelloop.forecast._curves`). The random curve may never reach the score at its
   fitted rate; then only "more than the curve can say" is known. The flat family is
   left out for what this curve is and what it is asked: five sizes up to 70% of the
   evaluation set, each scored on the few items left, asked how far random sampling
   rises past its last point (the project's score usually lies above it). The flat
   family reads the scatter of those last points as a ceiling and answers "never";
   the rising families level off too, but only where the points bend towards a
   ceiling. The project's own curve, many rounds long, keeps the flat family.
3. Labels saved may be negative: random sampling would have got there first.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.forecast._curves import RISING_FAMILIES, LearningCurve
from labelloop.forecast._forecast import _check_fraction, fit_learning_curve
from labelloop.strategies._validation import check_random_state

__all__ = ["Savings", "random_curve_points", "savings_against_random"]

_DRAWS = 10


def random_curve_points(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    score: Callable[[np.ndarray, np.ndarray], float],
    sizes: Sequence[int] | None = None,
    repeats: int = 3,
    random_state: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 1: random sampling's learning curve, traced on a random sample of items.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Unfitted; cloned for every fit.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        A random sample of the pool, labelled (a project's evaluation set).
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Their labels.
    score : callable
        ``score(y_true, y_pred) -> float``, e.g. macro-F1; or a tuple of floats, several
        scores of the same fits.
    sizes : sequence of int, optional
        Training-subset sizes (default: rule 1's five).
    repeats : int, default=3
        Subsets drawn per size; the mean score is kept.
    random_state : int, Generator or None, default=0

    Returns
    -------
    n_labels, scores : ndarray
        The sizes that could be fitted and the mean score at each (one column per
        score when ``score`` returns several).
    """
    from sklearn.base import clone

    if not callable(score):
        raise ValidationError("score must be a callable score(y_true, y_pred)", field="score")
    y = np.asarray(y)
    n_items = len(y)
    if getattr(X, "shape", (n_items,))[0] != n_items:
        raise ValidationError(f"X has {X.shape[0]} rows and y {n_items}", field="y")
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise ValidationError(f"repeats must be an integer >= 1, got {repeats!r}", field="repeats")
    classes = np.unique(y.astype(str), axis=0) if y.ndim == 1 else np.unique(y, axis=0)
    if sizes is None:
        smallest, largest = max(10, 2 * len(classes)), int(0.7 * n_items)
        if largest <= smallest:
            return np.zeros(0), np.zeros(0)
        sizes = sorted({int(round(s)) for s in np.geomspace(smallest, largest, 5)})
    sizes = [int(s) for s in sizes]
    for index, size in enumerate(sizes):
        if not 2 <= size < n_items:
            raise ValidationError(
                f"sizes.{index} must leave items to score on: between 2 and {n_items - 1}, "
                f"got {size}",
                field=f"sizes.{index}",
            )
    rng = check_random_state(random_state)
    kept_n, kept_scores = [], []
    for size in sizes:
        found = []
        for _ in range(int(repeats)):
            for _ in range(_DRAWS):
                order = rng.permutation(n_items)
                train, rest = order[:size], order[size:]
                if len(np.unique(y[train], axis=0)) >= 2:
                    model = clone(estimator).fit(X[train], y[train])
                    found.append(np.asarray(score(y[rest], model.predict(X[rest])), dtype=float))
                    break
        if found:
            kept_n.append(size)
            kept_scores.append(np.mean(found, axis=0))
    return np.asarray(kept_n, dtype=float), np.asarray(kept_scores, dtype=float)


@dataclass(frozen=True)
class Savings:
    """Labels saved against random sampling at the score the project reached.

    Attributes
    ----------
    n_labels : int
        Labels the project used.
    score : float
        The score it reached with them.
    random_labels, random_low, random_high : int or None
        Labels random sampling would have needed, with the interval; None where its
        curve does not reach the score within what it can say (rule 2).
    labels_saved : int or None
        ``random_labels - n_labels`` (negative: random would have got there first).
    level : float
    metric : str
        The score's name, for the sentence.
    curve : LearningCurve or None
        Random sampling's fitted curve (rule 2).
    """

    n_labels: int
    score: float
    random_labels: int | None
    random_low: int | None
    random_high: int | None
    labels_saved: int | None
    level: float
    metric: str = "score"
    curve: LearningCurve | None = field(default=None, repr=False, compare=False)

    @property
    def sentence(self) -> str:
        """The estimate in one sentence for people."""
        head = f"the model reached {self.metric} {self.score:.2f} with {self.n_labels:,} labels"
        if self.random_labels is None:
            low = f" (at least {self.random_low:,})" if self.random_low is not None else ""
            return f"{head}; random sampling's curve does not reach it at its rate{low}"
        span = (
            f"{self.random_low:,}-{self.random_high:,}"
            if self.random_high is not None
            else f"{self.random_low:,} or more"
        )
        return f"{head}; random sampling would have needed about {self.random_labels:,} ({span})"


def _count(value: float) -> int | None:
    return int(math.ceil(value)) if math.isfinite(value) else None


def savings_against_random(
    random_n_labels: Sequence[float],
    random_scores: Sequence[float],
    *,
    n_labels: int,
    score: float,
    metric: str = "score",
    level: float = 0.8,
    n_boot: int = 100,
    random_state: int | np.random.Generator | None = 0,
) -> Savings:
    """Rule 2: the labels random sampling would have needed to reach ``score``.

    Parameters
    ----------
    random_n_labels, random_scores : sequence of float
        Random sampling's learning curve (`random_curve_points`).
    n_labels : int
        Labels the project used to reach ``score``.
    score : float
        The project's score, in ``(0, 1]``.
    metric : str, default="score"
        The score's name, for the sentence.
    level, n_boot, random_state
        See `labelloop.forecast.fit_learning_curve`.

    Examples
    --------
    >>> n = [20, 40, 80, 160]
    >>> s = savings_against_random(n, [0.9 - 2 * x ** -0.5 for x in n], n_labels=100,
    ...                            score=0.8, n_boot=0)
    >>> s.random_labels > 100, s.labels_saved == s.random_labels - 100
    (True, True)
    """
    if isinstance(n_labels, bool) or not isinstance(n_labels, numbers.Integral) or n_labels < 1:
        raise ValidationError(
            f"n_labels must be a positive count, got {n_labels!r}", field="n_labels"
        )
    score = _check_fraction(score, "score")
    curve = fit_learning_curve(
        random_n_labels,
        random_scores,
        families=RISING_FAMILIES,
        level=level,
        n_boot=n_boot,
        random_state=random_state,
    )
    # Inverting from one label on: random sampling may reach the score below its last point.
    point, low, high = curve.labels_for(score, start=1.0)
    random_labels = _count(point)
    return Savings(
        n_labels=int(n_labels),
        score=score,
        random_labels=random_labels,
        random_low=_count(low) if random_labels is not None or math.isfinite(low) else None,
        random_high=_count(high),
        labels_saved=random_labels - int(n_labels) if random_labels is not None else None,
        level=curve.level,
        metric=metric,
        curve=curve,
    )
