"""From a strategy name to a batch of pool items: the one way every caller selects.

:func:`select_batch` turns a fitted model (or none, at the cold start), the labels so far
and the unlabelled pool into a :class:`Selection`: the items to label next in pick order,
an informativeness score for every pool item, a reason in words for every pick, and a
JSON-serialisable ``state`` to pass back on the next round. :func:`select_chunked` does
the same for a pool read in chunks (each chunk proposes, the proposals compete), and is
what ``ActiveLearner``, ``simulate`` and the engine's rounds call.

``"auto"`` (the default everywhere) starts with cluster representatives while the model
cannot be trusted, then shares each batch between four arms (``cluster_margin``,
``margin``, ``representative``, ``random``) by a bandit rewarded with how often the
previous model was wrong about each arm's picks; its memory is ``Selection.state``.

Where the rules live:

- ``_batch``: the strategy names and :func:`select_batch` (argument checks);
- ``_chunked``: :func:`select_chunked`, :func:`pool_chunks` (chunks propose, proposals
  compete);
- ``_auto``: ``auto``'s cold start, bandit, arms and state;
- ``_auto_extras``: ``auto``'s options picked before the bandit (``rare_classes``,
  ``group_sampling``);
- ``_named``: random, the cold start and the strategies picked by name;
- ``_clusters``: cluster representatives and cluster-margin picks;
- ``_context``: the :class:`Selection` and the arrays one selection derives, lazily.
"""

from __future__ import annotations

from labelloop.selection._auto import AUTO_ARMS
from labelloop.selection._batch import (
    STRATEGY_NAMES,
    check_classes,
    check_strategy,
    check_xy,
    select_batch,
)
from labelloop.selection._chunked import (
    ChunkedSelection,
    ChunkProposal,
    check_chunk_size,
    pool_chunks,
    select_chunked,
)
from labelloop.selection._context import Selection
from labelloop.selection._named import COMMITTEE as COMMITTEE_STRATEGIES

__all__ = [
    "AUTO_ARMS",
    "COMMITTEE_STRATEGIES",
    "STRATEGY_NAMES",
    "ChunkProposal",
    "ChunkedSelection",
    "Selection",
    "check_chunk_size",
    "check_classes",
    "check_strategy",
    "check_xy",
    "pool_chunks",
    "select_batch",
    "select_chunked",
]
