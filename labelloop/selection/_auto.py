"""``auto``: cluster representatives at the cold start, then a bandit over four arms.

Rules kept here:

1. **Cold start.** While the model cannot be trusted (no model, fewer labels than the
   batch to pick, a single class, or a known class with fewer than two labels while there
   are fewer than 5 labels per class; for multi-label fewer than 10 labels, or no label
   both present and absent), ``auto`` picks cluster representatives: k-means over the
   pool, the item nearest each centre. An immature model's uncertainty is not asked.
2. **Adaptive.** A bandit over four arms: ``cluster_margin`` (the most uncertain items,
   one per cluster), ``margin`` (the most uncertain items), ``representative`` (cluster
   representatives) and ``random``. Each batch is shared between the arms by the
   bandit's probabilities (largest remainders, drawn at random), the arms picking in that
   order from the items the arms before them left.
3. **Reward.** When the labels come back, every arm is rewarded by how often the previous
   model was wrong about the items it picked: labels that surprise the model teach it
   the most, and an arm that keeps finding confidently wrong predictions (a missed
   cluster, a minority class) gains share. Rewards are discounted so the mix follows the
   model as it matures, shrunk to a prior, and every arm keeps a minimum share.
4. **Rare classes** (``rare_classes="on"``). Once the model is trusted, when a class is
   rare among the labels (:func:`labelloop.strategies.rare.rare_class_labels`), up to
   half of the batch comes from the nearest pool neighbours of its labelled examples
   (:func:`labelloop.strategies.rare.rare_neighbours`, as SEALS; distances weigh each
   dimension by how much the model uses it), the ones the model gives the highest
   probability of a rare class first (uncertainty breaks ties).
5. **Groups** (``group_sampling="minmax"`` or ``"balance"``). Once the model is trusted,
   up to half of what is left of the batch goes to groups
   (:func:`labelloop.strategies.groups.group_quotas`): the group the model serves worst
   on the evaluation set, or the groups with the fewest labels; within a group the most
   uncertain items first. The bandit shares the rest of the batch (rule 2); only its
   picks are rewarded.
6. **State.** The bandit's memory is ``Selection.state``: plain JSON. The caller passes it
   back unchanged as ``state=`` on the next call, with the items of this batch (once
   labelled) included in ``X_labelled`` / ``y_labelled``; rows are matched by content, so
   order does not matter. A missing or empty state starts the bandit afresh; the state of
   another strategy or version is refused.

Validation of the arguments is assumed done (:func:`labelloop.selection.select_batch`).
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.selection._auto_extras import AutoOptions, extra_picks, rare_budget
from labelloop.selection._clusters import cluster_margin, representatives
from labelloop.selection._context import Selection, SelectionContext, uncertainty_reason
from labelloop.selection._named import pick_cold_start

__all__ = ["AUTO_ARMS", "AutoOptions", "select_auto"]

AUTO_ARMS = ("cluster_margin", "margin", "representative", "random")

# Bandit settings of "auto": the reward each arm starts from (worth _PRIOR_WEIGHT labels;
# uncertainty arms first, as they win on most data), the discount per round, the softmax
# temperature and the share every arm keeps.
_ARM_PRIORS = (0.5, 0.45, 0.25, 0.2)
_PRIOR_WEIGHT = 5.0
_DISCOUNT = 0.7
_TEMPERATURE = 0.08
_EXPLORATION = 0.04
_STATE_VERSION = 1


def select_auto(
    context: SelectionContext, k: int, state: dict, options: AutoOptions | None = None
) -> Selection:
    """``k`` pool items picked by ``auto`` (module docstring); ``state`` is not modified."""
    state = _checked_state(state)
    if not _model_is_trusted(context, k):
        state["pending"] = []
        return pick_cold_start(context, k, state=state)
    rewards = _reward_arms(state, context)
    shares = _arm_shares(state)
    scores = context.uncertainty("margin")
    available = np.ones(context.n_pool, dtype=bool)
    options = options or AutoOptions()
    rare, grouped = extra_picks(
        context, scores, k, options, available, rare_count=_rare_count(state, context, k)
    )
    extra = rare + grouped
    state["rare_pending"] = _row_keys(context.X_pool, [i for i, _ in rare])
    counts = _allocate(shares, k - len(extra), context.rng)
    picks: list[tuple[int, str, str]] = []
    for arm, count, share in zip(AUTO_ARMS, counts, shares, strict=True):
        if count == 0:
            continue
        chosen, notes = _arm_picks(arm, context, scores, int(count), available)
        available[chosen] = False
        prefix = f"auto, {arm} arm ({share:.0%} of the batch)"
        picks.extend(
            (int(i), arm, f"{prefix}: {note}") for i, note in zip(chosen, notes, strict=True)
        )
    bandit = np.asarray([p[0] for p in picks], dtype=np.intp)
    predicted = _predicted_labels(context, bandit)
    keys = _row_keys(context.X_pool, bandit)
    indices = np.asarray([i for i, _ in extra] + bandit.tolist(), dtype=np.intp)
    state["pending"] = [
        {"key": key, "arm": arm, "predicted": label}
        for key, (_, arm, _), label in zip(keys, picks, predicted, strict=True)
    ]
    state["round"] += 1
    state["history"] = state["history"][-19:]
    state["history"].append(
        {
            "round": state["round"],
            "rewards": {arm: round(value, 4) for arm, value in rewards.items()},
            "shares": {arm: round(float(s), 4) for arm, s in zip(AUTO_ARMS, shares, strict=True)},
        }
    )
    main_arm = AUTO_ARMS[int(np.argmax(counts))] if counts.sum() else "auto"
    reasons = [note for _, note in extra] + [p[2] for p in picks]
    return Selection(indices, scores, reasons, main_arm, state)


def _rare_count(state: dict, context: SelectionContext, k: int) -> int:
    """How many rare-class picks this batch may hold, from what the last ones found."""
    pending = state.get("rare_pending")
    if not isinstance(pending, list) or not pending:
        return rare_budget(k, None, 0)
    label_of = dict(zip(_row_keys(context.X_labelled), context.y_labelled, strict=True))
    found = [_plain_label(label_of[key]) for key in pending if key in label_of]
    hits = 0
    if found and context.classes:
        values, counts = np.unique(context.y_labelled, return_counts=True)
        fair = context.y_labelled.shape[0] / len(context.classes)
        few = {_plain_label(v) for v, c in zip(values, counts, strict=True) if c < fair}
        hits = sum(label in few for label in found)
    return rare_budget(k, len(pending), hits)


def _model_is_trusted(context: SelectionContext, k: int) -> bool:
    """Whether the model has seen two labels of every class (or 5 per class in all), and
    at least as many labels as the ``k`` items it is about to pick.

    One label per class measured better on digits and wine but worse on MNIST (AULC
    0.824 against 0.830 over 5 seeds): the extra cluster representatives pay off on
    the larger pool. A model fitted on fewer labels than the batch would commit more
    labels to its judgement than it has learnt from; representatives first measured
    better on the sparse text sets where the initial labels are fewer than a batch
    (benchmarks/RESULTS.md) and moved the dense sets by less than 0.001 AULC.
    """
    if context.estimator is None:
        return False
    y = context.y_labelled
    if y.shape[0] < k:
        return False
    if context.multilabel:
        if y.shape[0] < 10:
            return False
        positives = y.sum(axis=0)
        return bool(((positives > 0) & (positives < y.shape[0])).any())
    values, counts = np.unique(y, return_counts=True)
    n_classes = len(context.classes) if context.classes is not None else values.size
    if values.size < 2:
        return False
    if y.shape[0] >= 5 * n_classes:
        return True
    return values.size == n_classes and counts.min() >= 2


def _row_keys(X: Any, rows: Sequence[int] | np.ndarray | None = None) -> list[str]:
    """A content key per row, so labelled rows can be found again next round."""
    rows = range(X.shape[0]) if rows is None else rows
    keys = []
    for row in rows:
        if sp.issparse(X):
            sliced = X[int(row)]
            order = np.argsort(sliced.indices)
            payload = (
                np.asarray(sliced.indices[order], dtype=np.int64).tobytes()
                + np.asarray(sliced.data[order], dtype=np.float64).tobytes()
            )
        else:
            payload = np.ascontiguousarray(X[int(row)], dtype=np.float64).tobytes()
        keys.append(hashlib.blake2b(payload, digest_size=12).hexdigest())
    return keys


def _plain_label(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [int(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _fresh_state() -> dict:
    return {
        "strategy": "auto",
        "version": _STATE_VERSION,
        "round": 0,
        "arms": {arm: {"reward": 0.0, "labels": 0.0} for arm in AUTO_ARMS},
        "pending": [],
        "history": [],
    }


def _checked_state(state: dict) -> dict:
    """A copy of ``state`` to update, or a fresh one when it is empty."""
    if not state:
        return _fresh_state()
    if state.get("strategy") != "auto" or state.get("version") != _STATE_VERSION:
        raise ValidationError(
            "state is not the state of an 'auto' selection of this labelloop version; pass "
            "the previous Selection.state unchanged, or None to start afresh",
            field="state",
        )
    arms = state.get("arms")
    if not isinstance(arms, dict) or set(arms) != set(AUTO_ARMS):
        raise ValidationError("state['arms'] does not hold the auto arms", field="state")
    if not all(_is_arm_record(arms[arm]) for arm in AUTO_ARMS):
        raise ValidationError(
            "state['arms'] must give every arm a numeric 'reward' and 'labels'", field="state"
        )
    pending = state.get("pending", [])
    if not isinstance(pending, list) or not all(_is_pending_pick(entry) for entry in pending):
        raise ValidationError(
            "state['pending'] must list the picks of the previous batch as "
            "{'key', 'arm', 'predicted'}; pass the previous Selection.state unchanged",
            field="state",
        )
    if not isinstance(state.get("history", []), list):
        raise ValidationError("state['history'] must be a list", field="state")
    return {
        **state,
        "arms": {arm: dict(arms[arm]) for arm in AUTO_ARMS},
        "pending": list(state.get("pending", [])),
        "history": list(state.get("history", [])),
    }


def _is_arm_record(record: Any) -> bool:
    return isinstance(record, dict) and all(
        isinstance(record.get(name), numbers.Real) and not isinstance(record.get(name), bool)
        for name in ("reward", "labels")
    )


def _is_pending_pick(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("key"), str)
        and entry.get("arm") in AUTO_ARMS
        and "predicted" in entry
    )


def _reward_arms(state: dict, context: SelectionContext) -> dict[str, float]:
    """Credit each arm with the previous model's errors on the labels its picks got."""
    pending = state["pending"]
    if not pending or context.y_labelled.shape[0] == 0:
        return {}
    label_of = dict(zip(_row_keys(context.X_labelled), context.y_labelled, strict=True))
    errors: dict[str, list[float]] = {}
    for entry in pending:
        if entry["key"] not in label_of:
            continue
        truth = _plain_label(label_of[entry["key"]])
        if context.multilabel:
            wrong = float(np.mean(np.asarray(truth) != np.asarray(entry["predicted"])))
        else:
            wrong = float(truth != entry["predicted"])
        errors.setdefault(entry["arm"], []).append(wrong)
    for stats in state["arms"].values():
        stats["reward"] *= _DISCOUNT
        stats["labels"] *= _DISCOUNT
    for arm, values in errors.items():
        state["arms"][arm]["reward"] += float(np.sum(values))
        state["arms"][arm]["labels"] += float(len(values))
    return {arm: float(np.mean(values)) for arm, values in errors.items()}


def _arm_shares(state: dict) -> np.ndarray:
    """Softmax of each arm's mean reward (shrunk to a prior), mixed with a uniform share."""
    means = np.array(
        [
            (state["arms"][arm]["reward"] + prior * _PRIOR_WEIGHT)
            / (state["arms"][arm]["labels"] + _PRIOR_WEIGHT)
            for arm, prior in zip(AUTO_ARMS, _ARM_PRIORS, strict=True)
        ]
    )
    weights = np.exp((means - means.max()) / _TEMPERATURE)
    return (1 - _EXPLORATION) * weights / weights.sum() + _EXPLORATION / len(AUTO_ARMS)


def _allocate(shares: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Split k picks between arms in proportion to ``shares`` (largest remainders, random)."""
    exact = shares * k
    counts = np.floor(exact).astype(int)
    left = k - counts.sum()
    if left:
        remainders = exact - counts
        extra = rng.choice(len(shares), size=left, replace=False, p=remainders / remainders.sum())
        counts[extra] += 1
    return counts


def _arm_picks(
    arm: str, context: SelectionContext, scores: np.ndarray, count: int, available: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """``count`` available items picked by one arm of auto, and why."""
    if arm == "margin":
        candidates = np.flatnonzero(available)
        chosen = candidates[np.argsort(-scores[candidates], kind="stable")[:count]]
        return chosen, [uncertainty_reason(context, i) for i in chosen]
    if arm == "cluster_margin":
        chosen = cluster_margin(context, scores, count, available)
        notes = [f"{uncertainty_reason(context, i)}, the most of its cluster" for i in chosen]
        return chosen, notes
    if arm == "representative":
        chosen, _, sizes = representatives(context, count, available)
        return chosen, [f"represents about {size} similar pool items" for size in sizes]
    chosen = context.rng.choice(np.flatnonzero(available), size=count, replace=False)
    return chosen, ["a random pick that checks the model where it feels sure"] * count


def _predicted_labels(context: SelectionContext, indices: np.ndarray) -> list[Any]:
    proba = context.proba[indices]
    if context.multilabel:
        return [[int(v) for v in row] for row in (proba >= 0.5)]
    columns = proba.argmax(axis=1)
    if context.classes is None:
        return [int(c) for c in columns]
    return [_plain_label(context.classes[c]) for c in columns]
