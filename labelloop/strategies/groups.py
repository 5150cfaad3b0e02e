"""Group-aware sampling: how many of a batch's picks each group of items should get.

Rules kept here:

1. ``minmax`` gives the group the current model serves worst (the lowest score on the
   evaluation set, ``group_scores``) all the picks it can take: min-max fair active
   sampling draws from the worst group (Abernethy et al. 2022). Ties go to the group
   with fewer labels; groups without a score are never the worst.
2. ``balance`` evens the number of labels per group: each pick goes to the group with
   the fewest labels so far (counting the picks already given), ties to the group
   seen first, while the group has pool items left.
3. Items without a group (None) are never given a group's pick; a group with no pool
   item left gets no pick.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.exceptions import ValidationError

__all__ = ["GROUP_SAMPLING", "group_quotas"]

GROUP_SAMPLING: tuple[str, ...] = ("off", "minmax", "balance")


def group_quotas(
    pool_groups: Sequence[Any],
    labelled_groups: Sequence[Any],
    k: int,
    *,
    mode: str,
    group_scores: Mapping[Any, float] | None = None,
) -> dict[Any, int]:
    """The picks each group gets out of ``k`` (rules 1-3); groups with none are left out.

    Parameters
    ----------
    pool_groups : sequence of shape (n_pool,)
        Each pool item's group, or None.
    labelled_groups : sequence of shape (n_labelled,)
        Each labelled item's group, or None.
    k : int
        Picks to share, >= 0.
    mode : {"off", "minmax", "balance"}
    group_scores : mapping, optional
        Each group's score on the evaluation set (higher is better); ``minmax`` needs it.

    Returns
    -------
    dict
        Group to number of picks, the numbers summing to at most ``k``.

    Examples
    --------
    >>> group_quotas(["a", "a", "b", "b", "b"], ["a", "a", "a"], 2, mode="balance")
    {'b': 2}
    >>> group_quotas(["a", "b", "b"], [], 2, mode="minmax", group_scores={"a": 0.9, "b": 0.6})
    {'b': 2}
    """
    if mode not in GROUP_SAMPLING:
        raise ValidationError(
            f"unknown group sampling {mode!r}: use one of {', '.join(GROUP_SAMPLING)}",
            field="group_sampling",
        )
    available = Counter(g for g in pool_groups if g is not None)
    if mode == "off" or k <= 0 or not available:
        return {}
    labels = Counter(g for g in labelled_groups if g is not None)
    if mode == "minmax":
        scored = [g for g in available if group_scores and group_scores.get(g) is not None]
        if not scored:
            return {}
        worst = min(scored, key=lambda g: (float(group_scores[g]), labels[g]))
        return {worst: min(k, available[worst])}
    quotas: dict[Any, int] = {}
    for _ in range(k):
        open_groups = [g for g in available if quotas.get(g, 0) < available[g]]
        if not open_groups:
            break
        chosen = min(open_groups, key=lambda g: labels[g] + quotas.get(g, 0))
        quotas[chosen] = quotas.get(chosen, 0) + 1
    return quotas
