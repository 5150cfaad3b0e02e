"""The parts of an ``auto`` batch picked before the bandit: rare classes and groups.

Rules 4 and 5 of ``labelloop.selection._auto``; validation is assumed done
(:func:`labelloop.selection.select_batch` checks the options).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.selection._context import SelectionContext, uncertainty_reason
from labelloop.strategies.groups import group_quotas
from labelloop.strategies.rare import feature_relevance, rare_class_labels, rare_neighbours

__all__ = ["RARE_CLASSES", "AutoOptions", "extra_picks", "rare_budget"]

RARE_CLASSES: tuple[str, ...] = ("off", "on")

# Up to this share of a batch goes to rare-class neighbours, then to groups: the bandit
# keeps the rest, so a wrong guess about rarity or groups costs at most half a batch.
_RARE_SHARE = 0.5
_GROUP_SHARE = 0.5
_NEIGHBOURS = 20


@dataclass(frozen=True)
class AutoOptions:
    """What ``auto`` adds to its bandit (module docstring).

    Attributes
    ----------
    rare_classes : {"off", "on"}
    group_sampling : {"off", "minmax", "balance"}
    pool_groups : sequence or None
        Each pool row's group (None for none), aligned with ``X_pool``.
    labelled_groups : sequence or None
        Each labelled row's group, aligned with ``X_labelled``.
    group_scores : mapping or None
        Each group's score on the evaluation set (``minmax``), higher is better.
    """

    rare_classes: str = "off"
    group_sampling: str = "off"
    pool_groups: Sequence[Any] | None = None
    labelled_groups: Sequence[Any] | None = None
    group_scores: Mapping[Any, float] | None = None


def extra_picks(
    context: SelectionContext,
    scores: np.ndarray,
    k: int,
    options: AutoOptions,
    available: np.ndarray,
    *,
    rare_count: int,
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(pool index, reason) of the rare-class and the group picks made before the bandit,
    at most ``rare_count`` of the first; marks them unavailable."""
    rare: list[tuple[int, str]] = []
    if options.rare_classes == "on" and not context.multilabel and context.classes:
        rare = _rare_picks(context, scores, min(rare_count, k), available)
    groups: list[tuple[int, str]] = []
    if options.group_sampling != "off" and options.pool_groups is not None:
        left = math.ceil(_GROUP_SHARE * (k - len(rare)))
        groups = _group_picks(context, scores, left, options, available)
    return rare, groups


def rare_budget(k: int, last_picks: int | None, last_hits: int) -> int:
    """Rare-class picks for this batch: half of it at first, then twice the rare labels
    the last rare picks found (at least one, at most half): a neighbourhood that stops
    yielding the rare class hands the batch back to the bandit."""
    ceiling = math.ceil(_RARE_SHARE * k)
    if last_picks is None:
        return ceiling
    return max(1, min(ceiling, 2 * last_hits))


def _rare_picks(
    context: SelectionContext, scores: np.ndarray, count: int, available: np.ndarray
) -> list[tuple[int, str]]:
    y = context.y_labelled
    rare = [
        c for c in rare_class_labels(y, context.classes, pool_proba=context.proba) if np.any(y == c)
    ]
    if not rare or count <= 0:
        return []
    examples = np.flatnonzero(np.isin(y, rare))
    pool = context.pool_embedding
    candidates, _ = rare_neighbours(
        pool,
        context.labelled_embedding[examples],
        n_neighbors=_NEIGHBOURS,
        weights=feature_relevance(context.estimator, pool.shape[1]),
    )
    candidates = candidates[available[candidates]]
    if candidates.size == 0:
        return []
    columns = [context.classes.index(c) for c in rare]
    rare_proba = context.proba[np.ix_(candidates, columns)]
    best = rare_proba.argmax(axis=1)
    order = np.lexsort((-scores[candidates], -rare_proba.max(axis=1)))[:count]
    picks = []
    for position in order:
        index = int(candidates[position])
        name = context.class_name(columns[best[position]])
        chance = rare_proba[position, best[position]]
        picks.append(
            (
                index,
                f"auto, rare classes: near a rare class example ({name}, "
                f"{int(np.sum(y == context.classes[columns[best[position]]]))} labelled so "
                f"far); the model gives {name} {chance:.2f}",
            )
        )
        available[index] = False
    return picks


def _group_picks(
    context: SelectionContext,
    scores: np.ndarray,
    count: int,
    options: AutoOptions,
    available: np.ndarray,
) -> list[tuple[int, str]]:
    groups = np.asarray(options.pool_groups, dtype=object)
    free = [g if ok else None for g, ok in zip(groups.tolist(), available.tolist(), strict=True)]
    quotas = group_quotas(
        free,
        list(options.labelled_groups or []),
        count,
        mode=options.group_sampling,
        group_scores=options.group_scores,
    )
    picks = []
    for group, quota in quotas.items():
        members = np.flatnonzero((groups == group) & available)
        chosen = members[np.argsort(-scores[members], kind="stable")[:quota]]
        if options.group_sampling == "minmax":
            why = f"group {group} is the one the model serves worst"
        else:
            why = f"group {group} has the fewest labels"
        for index in chosen.tolist():
            picks.append((index, f"auto, groups: {why}; {uncertainty_reason(context, index)}"))
            available[index] = False
    return picks
