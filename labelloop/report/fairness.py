"""Per-group model quality with bootstrap intervals, and which groups to flag.

Given true and predicted labels of a random evaluation sample and each row's group, the
rules are:

1. Each group's accuracy and macro-F1 (over the labels the sample holds), with a
   percentile bootstrap interval (rows resampled within the group, ``n_boot`` times,
   seeded).
2. Each group's gap to the rest (the group's score minus the other rows'), with an
   interval from resampling both sides independently. A gap whose interval excludes
   zero is flagged: the model serves that group measurably worse (or better).
3. A group with fewer than ``min_n`` evaluation rows is flagged as small, never
   dropped: its interval is wide, and that is what the report says.
4. Nothing here knows what a group means; the caller says which attribute groups rows.

Plain numpy: fairlearn's ``MetricFrame`` computes the same per-group scores, but its
bootstrap and the flags are ours, and twenty lines of numpy need no extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["GroupQuality", "group_quality", "macro_f1"]


@dataclass(frozen=True)
class GroupQuality:
    """One group's scores on the evaluation sample (None where it has no rows)."""

    group: str
    n: int
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    macro_f1: float | None
    macro_f1_ci: tuple[float, float] | None
    accuracy_gap: float | None
    accuracy_gap_ci: tuple[float, float] | None
    small: bool
    gap_flagged: bool


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[Any]) -> float:
    """The mean F1 over ``labels`` (a label neither true nor predicted scores 0).

    Examples
    --------
    >>> macro_f1(np.array(["a", "b"]), np.array(["a", "a"]), ["a", "b"])
    0.3333333333333333
    """
    scores = []
    for label in labels:
        tp = np.sum((y_true == label) & (y_pred == label))
        fp = np.sum((y_true != label) & (y_pred == label))
        fn = np.sum((y_true == label) & (y_pred != label))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def _bootstrap(
    rng: np.random.Generator, y_true: np.ndarray, y_pred: np.ndarray, labels: list, n_boot: int
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 of ``n_boot`` resamples of the rows."""
    n = y_true.size
    draws = rng.integers(0, n, size=(n_boot, n))
    right = (y_true == y_pred)[draws]
    accuracy = right.mean(axis=1)
    f1 = np.array([macro_f1(y_true[d], y_pred[d], labels) for d in draws])
    return accuracy, f1


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def group_quality(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    groups: Sequence[Any],
    *,
    labels: Sequence[Any] | None = None,
    n_boot: int = 500,
    min_n: int = 30,
    seed: int = 0,
) -> list[GroupQuality]:
    """Rules 1 to 3 for every group of ``groups``, largest first.

    Parameters
    ----------
    y_true, y_pred, groups : sequences of the same length
        The evaluation rows' true and predicted labels and their group.
    labels : sequence, optional
        The labels macro-F1 averages over (default: those in ``y_true``).
    n_boot : int
        Bootstrap resamples per group.
    min_n : int
        Groups with fewer rows are flagged as small.
    seed : int

    Raises
    ------
    ValidationError
        Sequences of different lengths, or ``n_boot`` / ``min_n`` below 1.
    """
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    group_of = np.asarray([str(g) for g in groups], dtype=object)
    if not y_true.size == y_pred.size == group_of.size:
        raise ValidationError(
            f"y_true, y_pred and groups must have one entry per row, got {y_true.size}, "
            f"{y_pred.size} and {group_of.size}",
            field="groups",
        )
    for name, value in (("n_boot", n_boot), ("min_n", min_n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{name} must be a positive int, got {value!r}", field=name)
    labels = list(labels) if labels is not None else sorted(set(y_true.tolist()), key=str)
    rng = np.random.default_rng(seed)
    names, counts = np.unique(group_of, return_counts=True)
    result = []
    for name in names[np.argsort(-counts, kind="stable")]:
        inside = group_of == name
        n = int(inside.sum())
        small = n < min_n
        t, p = y_true[inside], y_pred[inside]
        accuracy = float(np.mean(t == p))
        f1 = macro_f1(t, p, labels)
        boot_acc, boot_f1 = _bootstrap(rng, t, p, labels, n_boot)
        gap = gap_ci = None
        flagged = False
        if (~inside).any():
            rest_acc, _ = _bootstrap(rng, y_true[~inside], y_pred[~inside], labels, n_boot)
            gap = accuracy - float(np.mean(y_true[~inside] == y_pred[~inside]))
            gap_ci = _interval(boot_acc - rest_acc)
            flagged = gap_ci[0] > 0 or gap_ci[1] < 0
        result.append(
            GroupQuality(
                group=str(name),
                n=n,
                accuracy=accuracy,
                accuracy_ci=_interval(boot_acc),
                macro_f1=f1,
                macro_f1_ci=_interval(boot_f1),
                accuracy_gap=gap,
                accuracy_gap_ci=gap_ci,
                small=small,
                gap_flagged=flagged,
            )
        )
    return result
