"""A confidence threshold certified to reach a target precision, on a calibration sample.

The guarantee: with probability at least ``1 - risk`` over the calibration sample, the
precision of the items whose top-class probability is at or above the threshold (the
items a model would label) is at least ``target_precision``. The calibration sample
must be a random sample of the items the threshold is then applied to, labelled by
people; actively picked items are biased toward the uncertain and void the guarantee.

Rules
-----
1. The thresholds tried are a fixed grid, from high to low (`threshold_grid`): 1 minus a
   geometric sequence from 1e-6 to ``1 - 1/n_classes``, so there are many steps near
   certainty, where models put most of their mass, and the last step labels everything.
   The grid depends on the number of classes only, never on the sample.
2. At each threshold the hypothesis "precision below the target" is tested by the
   one-sided Clopper-Pearson lower bound of the calibration precision at or above it
   (`precision_lower_bound`'s rule, at level ``1 - risk``): rejected when the bound
   reaches the target.
3. Fixed-sequence testing (as in Learn-then-Test): walk the grid from high to low and
   stop at the first threshold not rejected; every test spends the whole ``risk``,
   because no threshold is tried before all the higher ones were rejected. A walk
   starts at the first threshold selecting at least its start count of calibration
   items; the first start is `first_tested`, the fewest items whose bound reaches the
   target with one of them wrong (a walk starting where a single error stops it would
   end on the first item a model gets wrong at the very top). A larger sample runs
   ``m`` walks, starting at ``s, 4s, 16s, ...`` items (``s`` being `first_tested` at
   ``risk / m``; ``m`` the most whose last start fits in the sample), each spending
   ``risk / m`` (Bonferroni), so noise among the most confident items does not end
   every walk. Where the walks start depends on the sample's size and confidences only,
   never on its labels, so the sequences tested are fixed before a label is read.
   It does depend on the ask (target and risk): walk for walk, a stricter ask never
   certifies a lower threshold, but two asks that plan different walks may, rarely, end
   the other way round by a grid step or two; each answer holds at its own level.
4. The certified threshold is the lowest one a walk rejected before it stopped; None
   when every walk's first tested threshold is not rejected (or the sample is empty).
5. Per-class thresholds (`calibrate_class_thresholds`) certify each class on the rows
   the model predicts as that class, each at ``risk / n_classes`` (Bonferroni), so all
   of them hold together with probability ``1 - risk``; then every class's auto-labels,
   and so all of them, reach the target.
6. `labels_to_certify` answers "how many more calibration labels would allow it": the
   sample scaled up, its precision and coverage at every threshold kept, until rules 2-4
   certify one (``0`` when one is certified already, None when no size up to a thousand
   times the sample's would do: the model is not precise enough where it is most sure).
   With an empty sample it is `first_tested`, the least number that could certify anything.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.automation._bounds import _lower, check_level
from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_proba

__all__ = [
    "Calibration",
    "calibrate",
    "calibrate_class_thresholds",
    "calibrate_per_class",
    "calibrate_threshold",
    "first_tested",
    "labels_to_certify",
    "threshold_grid",
]

GRID_SIZE = 400
# Scaled-up samples tried by `labels_to_certify` before saying no size would do.
_MAX_SCALE = 1_000
# Each further walk starts where this many times more items are selected.
_START_STEP = 4


@dataclass(frozen=True)
class Calibration:
    """What one calibration found.

    Attributes
    ----------
    threshold : float or None
        The certified threshold on the top-class probability, None when none is.
    lower_bound : float or None
        The precision's lower bound at that threshold.
    precision : float or None
        The calibration sample's precision at that threshold.
    n_calibration : int
        Rows of the calibration sample.
    n_selected : int
        Calibration rows at or above the threshold (0 when none is certified).
    labels_needed : int or None
        More calibration labels that would allow a certificate (rule 6): 0 when one is
        certified, None when no number would.
    """

    threshold: float | None
    lower_bound: float | None
    precision: float | None
    n_calibration: int
    n_selected: int
    labels_needed: int | None


def threshold_grid(n_classes: int) -> np.ndarray:
    """Rule 1: the thresholds tried, from high to low.

    Examples
    --------
    >>> grid = threshold_grid(2)
    >>> float(grid[0]), float(grid[-1])
    (0.999999, 0.5)
    """
    return 1.0 - np.geomspace(1e-6, 1.0 - 1.0 / n_classes, GRID_SIZE)


def _check_inputs(proba: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(proba) if not hasattr(proba, "shape") else proba
    if getattr(array, "ndim", None) == 2 and array.shape[0] == 0 and array.shape[1] >= 2:
        proba = np.zeros((0, array.shape[1]))  # an empty sample certifies nothing
    else:
        proba = check_proba(proba, name="proba")
    try:
        labels_array = np.asarray(labels)
    except (TypeError, ValueError) as error:
        raise ValidationError(
            f"labels must be an array of column indices: {error}", field="labels"
        ) from None
    if labels_array.ndim != 1 or labels_array.shape[0] != proba.shape[0]:
        raise ValidationError(
            f"labels must be 1-D with one entry per row of proba ({proba.shape[0]}), "
            f"got shape {labels_array.shape}",
            field="labels",
        )
    if labels_array.size and not np.issubdtype(labels_array.dtype, np.integer):
        raise ValidationError(
            f"labels must hold integer column indices, got dtype {labels_array.dtype}",
            field="labels",
        )
    if labels_array.size and (labels_array.min() < 0 or labels_array.max() >= proba.shape[1]):
        bad = int(np.flatnonzero((labels_array < 0) | (labels_array >= proba.shape[1]))[0])
        raise ValidationError(
            f"labels[{bad}] is {labels_array[bad]}, not a column of proba "
            f"(0 to {proba.shape[1] - 1})",
            field=f"labels.{bad}",
        )
    return proba, labels_array.astype(np.int64)


def _counts(
    confidence: np.ndarray, correct: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows at or above each threshold of ``grid``, and the correct ones among them."""
    order = np.argsort(-confidence, kind="stable")
    descending = confidence[order]
    # Rows with confidence >= t: searchsorted on the ascending negated values.
    n = np.searchsorted(-descending, -grid, side="right")
    hits = np.concatenate([[0], np.cumsum(correct[order])])
    return hits[n].astype(np.float64), n.astype(np.float64)


def first_tested(target_precision: float, risk: float) -> int:
    """Rule 3: the fewest items whose bound reaches the target with one of them wrong.

    Examples
    --------
    >>> first_tested(0.95, 0.05)
    93
    """
    target = check_level(target_precision, name="target_precision")
    risk = check_level(risk, name="risk")
    return _first_tested(target, risk)


@functools.cache
def _first_tested(target: float, risk: float) -> int:
    # All correct needs log(risk) / log(target) items; one error roughly doubles that.
    low = math.ceil(math.log(risk) / math.log(target))
    high = low
    while _lower(np.array(high - 1.0), np.array(float(high)), risk) < target:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if _lower(np.array(middle - 1.0), np.array(float(middle)), risk) < target:
            low = middle
        else:
            high = middle
    return high


def _starts(total: float, target: float, risk: float) -> tuple[list[float], float]:
    """Rule 3: where each walk starts (items selected), and the risk each one spends."""
    m = 1
    while True:
        nxt = _first_tested(target, risk / (m + 1))
        if nxt * _START_STEP**m > total:
            break
        m += 1
    first = _first_tested(target, risk / m)
    return [first * _START_STEP**j for j in range(m)], risk / m


def _walk(k: np.ndarray, n: np.ndarray, start: float, target: float, risk: float) -> int | None:
    """Rules 2-4 for one walk: the index of the threshold it certifies, or None."""
    tested = n >= start - 1e-9
    passed = tested & (_lower(k, n, risk) >= target)
    stops = tested & ~passed
    end = int(np.argmax(stops)) if stops.any() else len(n)
    candidates = np.flatnonzero(passed[:end])
    return int(candidates[-1]) if candidates.size else None


def _certify(
    k: np.ndarray, n: np.ndarray, total: float, target: float, risk: float
) -> tuple[int, float] | None:
    """Rule 3's walks together: the lowest threshold any certifies, and its walk's risk."""
    starts, each = _starts(total, target, risk)
    found = [_walk(k, n, start, target, each) for start in starts]
    certified = [index for index in found if index is not None]
    return (max(certified), each) if certified else None


def _labels_needed(
    k: np.ndarray, n: np.ndarray, total: int, target: float, risk: float
) -> int | None:
    """Rule 6, validation assumed done."""
    if total == 0:
        return _first_tested(target, risk)
    if _certify(k, n, total, target, risk) is not None:
        return 0
    if not np.any(k > target * n):
        return None  # no region the sample shows is precise enough, at any size

    def certifies(size: int) -> bool:
        scale = size / total
        return _certify(k * scale, n * scale, size, target, risk) is not None

    high = total * 2
    while not certifies(high):
        if high > total * _MAX_SCALE:
            return None
        high *= 2
    low = high // 2  # does not certify (or is the sample itself)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if certifies(middle) else (middle, high)
    return high - total


def _calibrate(proba: np.ndarray, labels: np.ndarray, target: float, risk: float) -> Calibration:
    grid = threshold_grid(proba.shape[1])
    confidence = proba.max(axis=1) if proba.shape[0] else np.zeros(0)
    correct = (proba.argmax(axis=1) == labels) if proba.shape[0] else np.zeros(0, bool)
    k, n = _counts(confidence, correct, grid)
    needed = _labels_needed(k, n, proba.shape[0], target, risk)
    found = _certify(k, n, proba.shape[0], target, risk)
    if found is None:
        return Calibration(None, None, None, proba.shape[0], 0, needed)
    index, spent = found
    return Calibration(
        threshold=float(grid[index]),
        lower_bound=float(_lower(k[index], n[index], spent)),
        precision=float(k[index] / n[index]),
        n_calibration=proba.shape[0],
        n_selected=int(n[index]),
        labels_needed=0,
    )


def calibrate(
    proba: Any, labels: Any, *, target_precision: float = 0.95, risk: float = 0.05
) -> Calibration:
    """Certify a threshold and say what it rests on (rules 1-4 and 6).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        A model's class probabilities for a random calibration sample labelled by people.
    labels : array-like of shape (n_samples,)
        The true class of each row, as a column index of ``proba``.
    target_precision : float
        The precision the auto-labels must reach, in (0, 1).
    risk : float
        The chance allowed that they do not, in (0, 1).

    Returns
    -------
    Calibration

    Raises
    ------
    ValidationError
        A bad argument, named in ``field`` (``proba``, ``labels.<row>``,
        ``target_precision``, ``risk``).
    """
    target = check_level(target_precision, name="target_precision")
    risk = check_level(risk, name="risk")
    proba, labels = _check_inputs(proba, labels)
    return _calibrate(proba, labels, target, risk)


def calibrate_threshold(
    proba: Any, labels: Any, *, target_precision: float = 0.95, risk: float = 0.05
) -> float | None:
    """The lowest threshold on the top-class probability certified to reach a precision.

    With probability at least ``1 - risk``, the items whose top-class probability is at
    or above the returned threshold are labelled by their top class with a precision of
    at least ``target_precision`` (see the module's rules).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities of a random calibration sample labelled by people.
    labels : array-like of shape (n_samples,)
        The true class of each row, as a column index of ``proba``.
    target_precision : float
        In (0, 1); default 0.95.
    risk : float
        In (0, 1); default 0.05.

    Returns
    -------
    float or None
        None when no threshold can be certified (too few labels, or a model not precise
        enough); `labels_to_certify` says how many more labels would help.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> top = rng.uniform(0.5, 1.0, 2000)
    >>> proba = np.column_stack([top, 1 - top])
    >>> labels = (rng.uniform(size=2000) > top).astype(int)  # calibrated: P(correct) = top
    >>> threshold = calibrate_threshold(proba, labels)
    >>> 0.9 < threshold < 1.0
    True
    >>> calibrate_threshold(proba[:10], labels[:10]) is None
    True
    """
    return calibrate(proba, labels, target_precision=target_precision, risk=risk).threshold


def labels_to_certify(
    proba: Any, labels: Any, *, target_precision: float = 0.95, risk: float = 0.05
) -> int | None:
    """How many more calibration labels would allow a certified threshold (rule 6).

    Returns
    -------
    int or None
        0 when a threshold is certified already; None when more labels alone would not
        do (the model is not precise enough even where it is most sure).

    Examples
    --------
    >>> import numpy as np
    >>> labels_to_certify(np.zeros((0, 2)), np.zeros(0, dtype=int))
    93
    """
    return calibrate(proba, labels, target_precision=target_precision, risk=risk).labels_needed


def calibrate_per_class(
    proba: Any, labels: Any, *, target_precision: float = 0.95, risk: float = 0.05
) -> list[Calibration]:
    """One calibration per class, all holding together (rule 5).

    Class ``c``'s calibration reads the rows the model predicts as ``c``, at
    ``risk / n_classes``; its threshold applies to the items predicted as ``c``.

    Returns
    -------
    list of Calibration
        One per column of ``proba``.
    """
    target = check_level(target_precision, name="target_precision")
    risk = check_level(risk, name="risk")
    proba, labels = _check_inputs(proba, labels)
    n_classes = proba.shape[1]
    predicted = proba.argmax(axis=1) if proba.shape[0] else np.zeros(0, np.int64)
    return [
        _calibrate(proba[predicted == c], labels[predicted == c], target, risk / n_classes)
        for c in range(n_classes)
    ]


def calibrate_class_thresholds(
    proba: Any, labels: Any, *, target_precision: float = 0.95, risk: float = 0.05
) -> list[float | None]:
    """One certified threshold per class, all holding together (rule 5).

    Class ``c``'s threshold applies to the items the model predicts as ``c``.

    Returns
    -------
    list of float or None
        One per column of ``proba``; None for a class with no certified threshold.
    """
    found = calibrate_per_class(proba, labels, target_precision=target_precision, risk=risk)
    return [calibration.threshold for calibration in found]
