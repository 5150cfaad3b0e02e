"""Selection strategies: plain functions on numpy arrays (and scipy sparse embeddings).

Scores say how much a human label of each pool item would teach the model (higher = ask
first); selectors turn scores and/or embeddings into a batch of pool indices; the
``stopping`` module says when labelling stops paying off.

- Uncertainty of one model, ``proba`` (n_samples, n_classes): :func:`least_confidence`,
  :func:`margin`, :func:`entropy`, :func:`ratio` (``multilabel=True`` for one-vs-rest
  label probabilities), :func:`multilabel_uncertainty`.
- Committee / Bayesian disagreement, ``proba`` (n_members, n_samples, n_classes):
  :func:`vote_entropy`, :func:`kl_disagreement`, :func:`bald`.
- Selectors returning indices into the pool: :func:`top_k`, :func:`random_sample`
  (also exported as ``random``), :func:`k_center_greedy`, :func:`cluster_diverse` and
  :func:`badge` (the last three take dense or scipy sparse embeddings).
- Rare classes in :mod:`labelloop.strategies.rare` (``rare_class_labels``,
  ``rare_neighbours``: the pool's nearest neighbours of their labelled examples, in the
  dimensions the model uses by ``feature_relevance``) and
  group quotas in :mod:`labelloop.strategies.groups` (``group_quotas``: ``minmax`` or
  ``balance``).
- Stream decisions under a hard budget in :mod:`labelloop.strategies.stream`
  (:class:`StreamPolicy`, :func:`decide`, :class:`BudgetedStream`): ask a human about an
  arriving item now, or let it pass.
- Stopping criteria in :mod:`labelloop.strategies.stopping`, each returning a
  ``StopDecision(stop, value, reason)``: ``stabilizing_predictions`` (Cohen's ``kappa``
  between successive models on a stop set), ``max_uncertainty_below``,
  ``overall_uncertainty_below``, ``budget_exhausted``.

Every function validates its input and raises :class:`labelloop.exceptions.ValidationError`
(a ``ValueError``) naming the argument at fault.
"""

from __future__ import annotations

from labelloop.strategies import stopping, stream
from labelloop.strategies.badge import badge
from labelloop.strategies.committee import bald, kl_disagreement, vote_entropy
from labelloop.strategies.diversity import cluster_diverse, k_center_greedy
from labelloop.strategies.sampling import random_sample, top_k
from labelloop.strategies.stream import BudgetedStream, StreamPolicy
from labelloop.strategies.uncertainty import (
    entropy,
    least_confidence,
    margin,
    multilabel_uncertainty,
    ratio,
)

# The name for the uniform baseline; modules here never shadow the stdlib module.
random = random_sample

__all__ = [
    "BudgetedStream",
    "StreamPolicy",
    "badge",
    "bald",
    "cluster_diverse",
    "entropy",
    "k_center_greedy",
    "kl_disagreement",
    "least_confidence",
    "margin",
    "multilabel_uncertainty",
    "random",
    "random_sample",
    "ratio",
    "stopping",
    "stream",
    "top_k",
    "vote_entropy",
]
