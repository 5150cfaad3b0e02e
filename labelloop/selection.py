"""From a strategy name to a batch of pool items: the one entry point every caller uses.

:func:`select_batch` turns a fitted model (or none, at the cold start), the labels so far
and the unlabelled pool into a :class:`Selection`: the items to label next in pick order,
an informativeness score for every pool item, a reason in words for every pick, and a
JSON-serialisable ``state`` to pass back on the next round.

``"auto"`` (the default everywhere) works in two phases:

1. **Cold start.** While the model cannot be trusted (no model, fewer labels than the
   batch to pick, a single class, or a known class with fewer than two labels while there
   are fewer than 5 labels per class; for multi-label fewer than 10 labels), it picks
   cluster representatives: k-means over the pool, the item nearest each centre. An
   immature model's uncertainty is not asked.
2. **Adaptive.** A bandit over four arms: ``cluster_margin`` (the most uncertain items,
   one per cluster), ``margin`` (the most uncertain items), ``representative`` (cluster
   representatives) and ``random``. Each batch is shared between the arms by the
   bandit's probabilities. When the labels come back, every arm is rewarded by how
   often the previous model was wrong about the items it picked — labels that surprise
   the model teach it the most, and an arm that keeps finding confidently wrong
   predictions (a missed cluster, a minority class) gains share. Rewards are discounted
   so the mix follows the model as it matures, and every arm keeps a minimum share.

The bandit's memory is ``Selection.state``: plain JSON. The caller stores it and passes
it back unchanged as ``state=`` on the next call, with the items of this batch (once
labelled) included in ``X_labelled`` / ``y_labelled``; rows are matched by content, so
order does not matter. A missing or empty state starts the bandit afresh.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans

from labelloop import strategies
from labelloop.exceptions import ValidationError
from labelloop.models.adapters import class_list, embed, member_proba, predict_proba

__all__ = ["STRATEGY_NAMES", "Selection", "check_strategy", "select_batch"]

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

_UNCERTAINTY = ("least_confidence", "margin", "entropy", "ratio")
_COMMITTEE = ("vote_entropy", "kl_disagreement", "bald")
AUTO_ARMS = ("cluster_margin", "margin", "representative", "random")

# Bandit settings of "auto": the reward each arm starts from (worth _PRIOR_WEIGHT labels;
# uncertainty arms first, as they win on most data), the discount per round, the softmax
# temperature and the share every arm keeps.
_ARM_PRIORS = (0.5, 0.45, 0.25, 0.2)
_PRIOR_WEIGHT = 5.0
_DISCOUNT = 0.7
_TEMPERATURE = 0.08
_EXPLORATION = 0.04
# Items k-means sees when it looks for cluster representatives.
_MAX_CLUSTER_CANDIDATES = 3000
_STATE_VERSION = 1


@dataclass(frozen=True)
class Selection:
    """A batch picked from the pool.

    Attributes
    ----------
    indices : ndarray of shape (k,)
        Indices into ``X_pool``, in pick order.
    scores : ndarray of shape (n_pool,)
        Informativeness of every pool item; higher means ask a human first.
    reasons : list of str
        Why each picked item was picked, in words, aligned with ``indices``.
    strategy : str
        The strategy actually used: the name asked for, ``"cold-start"`` when the model
        could not be trusted yet, or for ``"auto"`` the arm that picked most of the batch.
    state : dict
        JSON-serialisable; pass it back as ``state=`` on the next call.
    """

    indices: np.ndarray
    scores: np.ndarray
    reasons: list[str]
    strategy: str
    state: dict = field(default_factory=dict)


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
) -> Selection:
    """Pick ``k`` pool items for humans to label next.

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGY_NAMES`; ``"auto"`` adapts to the data (module docstring).
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
        Seed for tie-breaks, clustering and random picks.

    Returns
    -------
    Selection

    Raises
    ------
    ValidationError
        An unknown strategy, ``k`` outside [1, n_pool], shapes that do not match, NaN
        probabilities, or a committee strategy without a committee. Each names its field.

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
    X_pool = _check_features(X_pool, "X_pool")
    n_pool = X_pool.shape[0]
    k = _check_k(k, n_pool)
    X_labelled, y_labelled = _check_labelled(X_labelled, y_labelled, X_pool.shape[1])
    if state is not None and not isinstance(state, dict):
        raise ValidationError(
            f"state must be the dict of the previous Selection or None, got {type(state).__name__}",
            field="state",
        )
    rng = _as_generator(random_state)
    context = _Context(estimator, X_labelled, y_labelled, X_pool, classes, rng)
    if strategy == "random":
        return _pick_random(context, k)
    if strategy == "auto":
        return _select_auto(context, k, state or {})
    if estimator is None:
        return _pick_cold_start(context, k)
    return _pick_named(strategy, context, k)


# --- validation ------------------------------------------------------------------------


def _check_features(X: Any, name: str) -> Any:
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
    return X


def _check_k(k: Any, n_pool: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValidationError(f"k must be an int, got {type(k).__name__}", field="k")
    if k < 1:
        raise ValidationError(f"k must be at least 1, got {k}", field="k")
    if k > n_pool:
        raise ValidationError(f"k={k} is larger than the pool ({n_pool} items left)", field="k")
    return int(k)


def _check_labelled(X: Any, y: Any, n_features: int) -> tuple[Any, np.ndarray]:
    if X is None or (not sp.issparse(X) and np.size(X) == 0):
        X = sp.csr_matrix((0, n_features)) if X is None else np.empty((0, n_features))
    X = _check_features(X, "X_labelled")
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


def _as_generator(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    ):
        return np.random.default_rng(random_state)
    raise ValidationError(
        "random_state must be None, an int seed or a numpy.random.Generator",
        field="random_state",
    )


# --- what every strategy needs, computed once and only when asked ----------------------


class _Context:
    """The inputs of one selection and the arrays derived from them, computed lazily."""

    def __init__(self, estimator, X_labelled, y_labelled, X_pool, classes, rng) -> None:
        self.estimator = estimator
        self.X_labelled = X_labelled
        self.y_labelled = y_labelled
        self.X_pool = X_pool
        self.rng = rng
        self.multilabel = y_labelled.ndim == 2 and (
            y_labelled.shape[1] > 1 or (classes is not None and len(classes) == 1)
        )
        if classes is None and estimator is not None and not self.multilabel:
            fitted = class_list(estimator)
            classes = None if fitted is None else list(fitted)
        self.classes = None if classes is None else list(classes)
        self._proba: np.ndarray | None = None
        self._pool_embedding: Any = None
        self._labelled_embedding: Any = None

    @property
    def n_pool(self) -> int:
        return self.X_pool.shape[0]

    @property
    def proba(self) -> np.ndarray:
        if self._proba is None:
            self._proba = predict_proba(
                self.estimator, self.X_pool, classes=self.classes, multilabel=self.multilabel
            )
            if not self.multilabel and self._proba.shape[1] < 2:
                raise ValidationError(
                    "the estimator knows a single class; pass classes= with every class of "
                    "the task, or use strategy='auto' until a second class is labelled",
                    field="estimator",
                )
        return self._proba

    @property
    def pool_embedding(self) -> Any:
        if self._pool_embedding is None:
            self._pool_embedding = embed(self.estimator, self.X_pool)
        return self._pool_embedding

    @property
    def labelled_embedding(self) -> Any:
        if self._labelled_embedding is None:
            self._labelled_embedding = embed(self.estimator, self.X_labelled)
        return self._labelled_embedding

    def uncertainty(self, method: str = "margin") -> np.ndarray:
        score = getattr(strategies, method)
        if self.multilabel:
            return score(self.proba, multilabel=True)
        return score(self.proba)

    def class_name(self, column: int) -> str:
        return str(self.classes[column]) if self.classes is not None else str(column)


# --- the named strategies --------------------------------------------------------------


def _pick_random(context: _Context, k: int) -> Selection:
    indices = strategies.random_sample(context.n_pool, k, random_state=context.rng)
    reasons = ["random pick: an unbiased sample of the pool"] * k
    return Selection(indices, np.zeros(context.n_pool), reasons, "random", {})


def _pick_cold_start(context: _Context, k: int, *, state: dict | None = None) -> Selection:
    indices, scores, sizes = _representatives(context, k, np.ones(context.n_pool, dtype=bool))
    reasons = [
        f"cold start: represents a cluster of about {size} similar pool items" for size in sizes
    ]
    return Selection(indices, scores, reasons, "cold-start", state or {})


def _pick_named(strategy: str, context: _Context, k: int) -> Selection:
    rng = context.rng
    if strategy in _UNCERTAINTY:
        scores = context.uncertainty(strategy)
        indices = strategies.top_k(scores, k, random_state=rng)
        label = strategy.replace("_", " ")
        reasons = [f"{label}: {_uncertainty_reason(context, i)}" for i in indices]
    elif strategy in _COMMITTEE:
        members = member_proba(
            context.estimator,
            context.X_pool,
            classes=None if context.multilabel else context.classes,
            random_state=rng,
        )
        if members is None:
            raise ValidationError(
                f"strategy {strategy!r} needs a committee: pass a list of estimators, a "
                "fitted ensemble, or a model with sample_proba (for 'bald')",
                field="strategy",
            )
        if context.multilabel:
            raise ValidationError(
                f"strategy {strategy!r} scores single-label tasks; use 'margin' or 'auto' "
                "for multi-label",
                field="strategy",
            )
        scores = getattr(strategies, strategy)(members)
        indices = strategies.top_k(scores, k, random_state=rng)
        label = strategy.replace("_", " ")
        reasons = [f"{label}: the committee disagrees ({scores[i]:.3f})" for i in indices]
    elif strategy == "k_center":
        scores, indices = _k_center(context, k)
        reasons = [f"k-center: far from everything labelled ({scores[i]:.3g})" for i in indices]
    elif strategy == "cluster_margin":
        scores = context.uncertainty("margin")
        indices = _cluster_margin(context, scores, k, np.ones(context.n_pool, dtype=bool))
        reasons = [
            f"cluster margin: {_uncertainty_reason(context, i)}, the most uncertain of its cluster"
            for i in indices
        ]
    else:  # badge
        proba = context.proba
        if context.multilabel:
            proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
        indices = np.asarray(
            strategies.badge(proba, context.pool_embedding, k, random_state=rng), dtype=np.intp
        )
        scores = context.uncertainty("margin")
        reasons = [
            f"badge: a large, novel expected gradient; {_uncertainty_reason(context, i)}"
            for i in indices
        ]
    return Selection(np.asarray(indices, dtype=np.intp), scores, reasons, strategy, {})


def _uncertainty_reason(context: _Context, index: int) -> str:
    row = context.proba[index]
    if context.multilabel:
        closest = np.argsort(np.abs(row - 0.5))[:2]
        parts = ", ".join(f"{context.class_name(c)} {row[c]:.2f}" for c in closest)
        return f"the model is unsure which labels apply ({parts})"
    first, second = np.argsort(-row)[:2]
    return (
        f"the model is torn between {context.class_name(first)} ({row[first]:.2f}) "
        f"and {context.class_name(second)} ({row[second]:.2f})"
    )


def _k_center(context: _Context, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center over the pool, counting the labelled items as centres already."""
    pool = context.pool_embedding
    labelled = context.labelled_embedding
    labeled = labelled if labelled.shape[0] else None
    indices = np.asarray(
        strategies.k_center_greedy(pool, k, labeled=labeled, random_state=context.rng),
        dtype=np.intp,
    )
    centres = labelled if labeled is not None else pool[indices[:1]]
    return np.sqrt(_min_sq_distances(pool, centres)), indices


# --- geometry helpers ------------------------------------------------------------------


def _row_sq_norms(X: Any) -> np.ndarray:
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", X, X)


def _min_sq_distances(X: Any, centres: Any, *, rows_per_block: int = 8192) -> np.ndarray:
    """Squared distance from every row of ``X`` to its nearest row of ``centres``."""
    centres = centres.toarray() if sp.issparse(centres) else np.asarray(centres)
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    norms = _row_sq_norms(X)
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], rows_per_block):
        block = X[start : start + rows_per_block]
        products = block @ centres.T
        products = np.asarray(products)
        distances = norms[start : start + rows_per_block, None] - 2 * products + centre_norms
        out[start : start + rows_per_block] = np.maximum(distances.min(axis=1), 0)
    return out


def _kmeans(X: Any, n_clusters: int, rng: np.random.Generator) -> KMeans:
    seed = int(rng.integers(2**31 - 1))
    return KMeans(n_clusters=n_clusters, n_init=1, max_iter=50, random_state=seed).fit(X)


def _representatives(
    context: _Context, k: int, available: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The available item nearest each of ``k`` k-means centres, cluster sizes, scores.

    k-means runs on a random sample of the available items so the cost stays bounded;
    the scores (minus the squared distance to the nearest centre) cover the whole pool.
    """
    pool = context.pool_embedding
    candidates = np.flatnonzero(available)
    n_sample = min(candidates.size, max(_MAX_CLUSTER_CANDIDATES, k))
    sample = np.sort(context.rng.choice(candidates, size=n_sample, replace=False))
    model = _kmeans(pool[sample], k, context.rng)
    centres = model.cluster_centers_
    sample_distances = _min_sq_distances(pool[sample], centres)
    assigned = model.labels_
    indices: list[int] = []
    sizes: list[int] = []
    scale = candidates.size / n_sample
    for cluster in np.argsort(-np.bincount(assigned, minlength=k)):
        members = np.flatnonzero(assigned == cluster)
        if members.size == 0:
            continue
        indices.append(int(sample[members[np.argmin(sample_distances[members])]]))
        sizes.append(int(round(members.size * scale)))
    if len(indices) < k:
        rest = np.setdiff1d(sample, indices)
        extra = context.rng.choice(rest, size=k - len(indices), replace=False)
        indices.extend(int(i) for i in extra)
        sizes.extend([1] * len(extra))
    scores = -_min_sq_distances(pool, centres)
    return np.asarray(indices, dtype=np.intp), scores, sizes


def _cluster_margin(
    context: _Context, scores: np.ndarray, k: int, available: np.ndarray
) -> np.ndarray:
    """Cluster-margin picks among the available items: most uncertain of each cluster."""
    candidates = np.flatnonzero(available)
    if candidates.size == context.n_pool:
        subset, embeddings = scores, context.pool_embedding
    else:
        subset, embeddings = scores[candidates], context.pool_embedding[candidates]
    picked = strategies.cluster_diverse(subset, embeddings, k, random_state=context.rng)
    return candidates[np.asarray(picked, dtype=np.intp)]


# --- auto ------------------------------------------------------------------------------


def _model_is_trusted(context: _Context, k: int) -> bool:
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
    return {
        **state,
        "arms": {arm: dict(arms[arm]) for arm in AUTO_ARMS},
        "pending": list(state.get("pending", [])),
        "history": list(state.get("history", [])),
    }


def _reward_arms(state: dict, context: _Context) -> dict[str, float]:
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


def _select_auto(context: _Context, k: int, state: dict) -> Selection:
    state = _checked_state(state)
    if not _model_is_trusted(context, k):
        state["pending"] = []
        return _pick_cold_start(context, k, state=state)
    rewards = _reward_arms(state, context)
    shares = _arm_shares(state)
    counts = _allocate(shares, k, context.rng)
    scores = context.uncertainty("margin")
    available = np.ones(context.n_pool, dtype=bool)
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
    indices = np.asarray([p[0] for p in picks], dtype=np.intp)
    predicted = _predicted_labels(context, indices)
    keys = _row_keys(context.X_pool, indices)
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
    main_arm = AUTO_ARMS[int(np.argmax(counts))]
    return Selection(indices, scores, [p[2] for p in picks], main_arm, state)


def _arm_picks(
    arm: str, context: _Context, scores: np.ndarray, count: int, available: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """``count`` available items picked by one arm of auto, and why."""
    if arm == "margin":
        candidates = np.flatnonzero(available)
        chosen = candidates[np.argsort(-scores[candidates], kind="stable")[:count]]
        return chosen, [_uncertainty_reason(context, i) for i in chosen]
    if arm == "cluster_margin":
        chosen = _cluster_margin(context, scores, count, available)
        notes = [f"{_uncertainty_reason(context, i)}, the most of its cluster" for i in chosen]
        return chosen, notes
    if arm == "representative":
        chosen, _, sizes = _representatives(context, count, available)
        return chosen, [f"represents about {size} similar pool items" for size in sizes]
    chosen = context.rng.choice(np.flatnonzero(available), size=count, replace=False)
    return chosen, ["a random pick that checks the model where it feels sure"] * count


def _predicted_labels(context: _Context, indices: np.ndarray) -> list[Any]:
    proba = context.proba[indices]
    if context.multilabel:
        return [[int(v) for v in row] for row in (proba >= 0.5)]
    columns = proba.argmax(axis=1)
    if context.classes is None:
        return [int(c) for c in columns]
    return [_plain_label(context.classes[c]) for c in columns]
