"""The strategies picked by name: random, the cold start, and one strategy per name.

Rules kept here:

1. ``random`` never asks the model: an unbiased sample with zero scores.
2. The cold start picks cluster representatives (``labelloop.selection._clusters``),
   reported as strategy ``"cold-start"``.
3. Uncertainty strategies score the pool's probabilities; committee strategies need a
   committee (or a model with ``sample_proba`` for ``bald``) and a single-label task.
4. ``k_center`` counts the labelled items as centres already; its scores are the distance
   to the nearest centre. ``badge`` is scored by margin.
5. Every pick comes with a reason in words.

Validation is assumed done (:func:`labelloop.selection.select_batch` does it).
"""

from __future__ import annotations

import numpy as np

from labelloop import strategies
from labelloop.exceptions import ValidationError
from labelloop.models.adapters import member_proba
from labelloop.selection._clusters import cluster_margin, representatives
from labelloop.selection._context import Selection, SelectionContext, uncertainty_reason
from labelloop.strategies._blocks import ROWS_PER_BLOCK
from labelloop.strategies._distances import min_sq_distances, row_sq_norms

__all__ = ["COMMITTEE", "UNCERTAINTY", "pick_cold_start", "pick_named", "pick_random"]

UNCERTAINTY = ("least_confidence", "margin", "entropy", "ratio")
COMMITTEE = ("vote_entropy", "kl_disagreement", "bald")


def pick_random(context: SelectionContext, k: int) -> Selection:
    """``k`` pool items drawn uniformly."""
    indices = strategies.random_sample(context.n_pool, k, random_state=context.rng)
    reasons = ["random pick: an unbiased sample of the pool"] * k
    return Selection(indices, np.zeros(context.n_pool), reasons, "random", {})


def pick_cold_start(context: SelectionContext, k: int, *, state: dict | None = None) -> Selection:
    """``k`` cluster representatives, for a model that cannot be trusted yet."""
    indices, scores, sizes = representatives(context, k, np.ones(context.n_pool, dtype=bool))
    reasons = [
        f"cold start: represents a cluster of about {size} similar pool items" for size in sizes
    ]
    return Selection(indices, scores, reasons, "cold-start", state or {})


def pick_named(strategy: str, context: SelectionContext, k: int) -> Selection:
    """``k`` pool items picked by the named strategy (neither ``random`` nor ``auto``)."""
    rng = context.rng
    if strategy in UNCERTAINTY:
        scores = context.uncertainty(strategy)
        indices = strategies.top_k(scores, k, random_state=rng)
        label = strategy.replace("_", " ")
        reasons = [f"{label}: {uncertainty_reason(context, i)}" for i in indices]
    elif strategy in COMMITTEE:
        scores, indices = _committee(strategy, context, k)
        label = strategy.replace("_", " ")
        reasons = [f"{label}: the committee disagrees ({scores[i]:.3f})" for i in indices]
    elif strategy == "k_center":
        scores, indices = _k_center(context, k)
        reasons = [f"k-center: far from everything labelled ({scores[i]:.3g})" for i in indices]
    elif strategy == "cluster_margin":
        scores = context.uncertainty("margin")
        indices = cluster_margin(context, scores, k, np.ones(context.n_pool, dtype=bool))
        reasons = [
            f"cluster margin: {uncertainty_reason(context, i)}, the most uncertain of its cluster"
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
            f"badge: a large, novel expected gradient; {uncertainty_reason(context, i)}"
            for i in indices
        ]
    return Selection(np.asarray(indices, dtype=np.intp), scores, reasons, strategy, {})


def _committee(strategy: str, context: SelectionContext, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The committee's disagreement over the pool and its ``k`` highest items."""
    members = member_proba(
        context.estimator,
        context.X_pool,
        classes=None if context.multilabel else context.classes,
        random_state=context.rng,
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
    return scores, strategies.top_k(scores, k, random_state=context.rng)


def _k_center(context: SelectionContext, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center over the pool, counting the labelled items as centres already."""
    pool = context.pool_embedding
    labelled = context.labelled_embedding
    labeled = labelled if labelled.shape[0] else None
    indices = np.asarray(
        strategies.k_center_greedy(pool, k, labeled=labeled, random_state=context.rng),
        dtype=np.intp,
    )
    centres = labelled if labeled is not None else pool[indices[:1]]
    distances = min_sq_distances(pool, row_sq_norms(pool), centres, ROWS_PER_BLOCK)
    return np.sqrt(distances), indices
