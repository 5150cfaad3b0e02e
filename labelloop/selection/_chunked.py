"""Selection over a pool read in chunks: each chunk proposes a batch, the proposals compete.

Every caller that selects from a pool (``ActiveLearner``, ``simulate``, the engine's
rounds) goes through :func:`select_chunked`, so a pool too large for memory is scored the
same way as one that fits.

Rules kept here:

1. Each chunk is scored by :func:`labelloop.selection.select_batch` and proposes
   ``min(k, rows in the chunk)`` items, with the same labels, ``state``, ``classes`` and
   ``random_state`` as every other chunk: an int seed starts afresh in every chunk, so a
   chunk's scores and proposal do not depend on the chunks read before it (a Generator
   is shared, and advances from chunk to chunk). A chunk without rows proposes nothing.
2. One chunk: its proposal is the batch. Several: the batch is selected by one more call
   with the same arguments among the proposals, their rows stacked in chunk order,
   ``min(k, number of proposals)`` items; that call's reasons, strategy and state are the
   batch's.
3. Between chunks only the item ids, the scores and the proposed rows are kept: memory
   grows with the pool by two numbers per item, plus ``k`` rows per chunk.
4. ``on_chunk`` sees each chunk's scores and proposal as soon as the chunk is scored,
   before the next chunk is read, and only after every argument was checked.
5. No chunk at all: an empty batch, the strategy asked for and the state passed in.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.selection._batch import (
    check_auto_options,
    check_features,
    check_state,
    check_strategy,
    select_batch,
)
from labelloop.selection._context import Selection
from labelloop.strategies._validation import check_k, check_random_state

__all__ = [
    "ChunkProposal",
    "ChunkedSelection",
    "check_chunk_size",
    "pool_chunks",
    "select_chunked",
]


@dataclass(frozen=True)
class ChunkProposal:
    """One chunk of the pool, scored, with the batch it proposes.

    Attributes
    ----------
    item_ids : ndarray of shape (n_chunk,)
        The chunk's item ids, as the caller gave them.
    X : ndarray or CSR matrix of shape (n_chunk, n_features)
        The chunk's rows (an array-like is made an array, a sparse matrix CSR).
    selection : Selection
        What :func:`select_batch` made of the chunk: ``indices`` into the chunk, a score
        for every row, reasons.
    """

    item_ids: np.ndarray
    X: Any
    selection: Selection

    @property
    def scores(self) -> np.ndarray:
        """Informativeness of every item of the chunk, aligned with ``item_ids``."""
        return self.selection.scores

    @property
    def proposed_ids(self) -> np.ndarray:
        """The item ids the chunk proposes, in pick order."""
        return self.item_ids[self.selection.indices]


@dataclass(frozen=True)
class ChunkedSelection:
    """A batch picked from a pool read in chunks.

    Attributes
    ----------
    item_ids : ndarray of shape (n_pool,)
        Every item id of the pool, in the order the chunks gave them.
    scores : ndarray of shape (n_pool,)
        Each item's informativeness in its chunk, aligned with ``item_ids``.
    batch_ids : ndarray of shape (k,)
        The picked item ids, in pick order.
    reasons : list of str
        Why each picked item was picked, aligned with ``batch_ids``.
    strategy : str
        The strategy actually used (see :class:`Selection`).
    state : dict
        JSON-serialisable; pass it back as ``state=`` on the next call.
    """

    item_ids: np.ndarray
    scores: np.ndarray
    batch_ids: np.ndarray
    reasons: list[str]
    strategy: str
    state: dict = field(default_factory=dict)

    def to_selection(self) -> Selection:
        """The batch as a :class:`Selection`, for item ids that are row positions.

        :func:`pool_chunks` gives such ids: ``indices`` then index the whole pool.
        """
        return Selection(self.batch_ids, self.scores, self.reasons, self.strategy, self.state)


def check_chunk_size(chunk_size: Any) -> int | None:
    """Return ``chunk_size`` if it is None (one chunk) or an int >= 1."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise ValidationError(
            f"chunk_size must be None or an int, got {type(chunk_size).__name__}",
            field="chunk_size",
        )
    if chunk_size < 1:
        raise ValidationError(
            f"chunk_size must be at least 1, got {chunk_size}", field="chunk_size"
        )
    return int(chunk_size)


def pool_chunks(X_pool: Any, *, chunk_size: int | None = None) -> Iterator[tuple[np.ndarray, Any]]:
    """Split an in-memory pool into ``(row positions, rows)`` chunks for :func:`select_chunked`.

    Parameters
    ----------
    X_pool : array-like or sparse matrix of shape (n_pool, n_features)
    chunk_size : int, optional
        Rows per chunk; None (the default) gives the whole pool as one chunk.

    Returns
    -------
    iterator of (ndarray of shape (n_chunk,), rows)
        The positions of the rows in ``X_pool`` (the item ids), and the rows.

    Raises
    ------
    ValidationError
        ``X_pool`` that is not 2-D, ``chunk_size`` that is not None or an int >= 1.
    """
    X_pool = check_features(X_pool, "X_pool")
    chunk_size = check_chunk_size(chunk_size)
    return _pool_chunks(X_pool, chunk_size or max(X_pool.shape[0], 1))


def _pool_chunks(X_pool: Any, chunk_size: int) -> Iterator[tuple[np.ndarray, Any]]:
    n_pool = X_pool.shape[0]
    if n_pool <= chunk_size:
        if n_pool:
            # The pool itself, not a slice: one chunk is exactly the call on the whole pool.
            yield np.arange(n_pool), X_pool
        return
    for start in range(0, n_pool, chunk_size):
        stop = min(start + chunk_size, n_pool)
        yield np.arange(start, stop), X_pool[start:stop]


def select_chunked(
    strategy: str,
    estimator: Any,
    X_labelled: Any,
    y_labelled: Any,
    chunks: Iterable[tuple[Any, Any]],
    k: int,
    *,
    state: dict | None = None,
    classes: Sequence[Any] | None = None,
    random_state: None | int | np.random.Generator = None,
    on_chunk: Callable[[ChunkProposal], None] | None = None,
    rare_classes: str = "off",
    group_sampling: str = "off",
    pool_groups: Mapping[Any, Any] | None = None,
    labelled_groups: Sequence[Any] | None = None,
    group_scores: Mapping[Any, float] | None = None,
) -> ChunkedSelection:
    """Pick ``k`` items of a pool read in chunks: each chunk proposes, the proposals compete.

    Parameters
    ----------
    strategy, estimator, X_labelled, y_labelled, state, classes
        As for :func:`select_batch`.
    chunks : iterable of (item ids, rows)
        The pool, a chunk at a time: the item ids (array-like of shape (n_chunk,)) and
        their rows (array-like or sparse matrix of shape (n_chunk, n_features)). It is
        read once, lazily: a generator over a database keeps one chunk in memory.
    k : int
        How many items to pick, >= 1; a pool with fewer items gives all of them.
    random_state : None, int or numpy.random.Generator
        As for :func:`select_batch`; an int seed starts afresh in every chunk.
    on_chunk : callable, optional
        Called as ``on_chunk(proposal)`` with a :class:`ChunkProposal` after each chunk
        is scored, before the next one is read: write its predictions, report progress.
    rare_classes, group_sampling, labelled_groups, group_scores
        As for :func:`select_batch`.
    pool_groups : mapping, optional
        Each pool item's group by item id; an id it lacks has no group.

    Returns
    -------
    ChunkedSelection

    Raises
    ------
    ValidationError
        As :func:`select_batch`, before ``on_chunk`` is first called; a chunk that is not
        a pair of item ids and as many rows (``field="chunks"``), when it is read.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> labelled = [0, 1, 50, 51, 100, 101]
    >>> model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    >>> seen = []
    >>> picked = select_chunked(
    ...     "margin", model, X[labelled], y[labelled], pool_chunks(X, chunk_size=50), 3,
    ...     random_state=0, on_chunk=lambda chunk: seen.append(len(chunk.item_ids)),
    ... )
    >>> seen, picked.batch_ids.shape, picked.scores.shape
    ([50, 50, 50], (3,), (150,))

    A pool in a database is read as pages of ``(item ids, featurised rows)``; ``on_chunk``
    writes each page's scores as it goes, and ``batch_ids`` are the database's item ids:

    >>> def pages(size=40):  # stands for keyset pages read from the store
    ...     for start in range(0, len(X), size):
    ...         stop = min(start + size, len(X))
    ...         yield list(range(1000 + start, 1000 + stop)), X[start:stop]
    >>> written = {}
    >>> picked = select_chunked(
    ...     "auto", model, X[labelled], y[labelled], pages(), 5, random_state=7,
    ...     on_chunk=lambda chunk: written.update(zip(chunk.item_ids.tolist(), chunk.scores)),
    ... )
    >>> len(written), sorted(set(picked.batch_ids.tolist()) - set(written))
    (150, [])
    """
    strategy = check_strategy(strategy)
    # The pool's size is known only once it is read: a smaller pool gives all of it.
    k = check_k(k, sys.maxsize)
    state = check_state(state)
    # Checked once for an empty pool too; an int seed is passed on as is (rule 1).
    check_random_state(random_state)
    if not isinstance(chunks, Iterable):
        raise ValidationError(
            "chunks must be an iterable of (item ids, rows) pairs", field="chunks"
        )
    if on_chunk is not None and not callable(on_chunk):
        raise ValidationError("on_chunk must be a callable or None", field="on_chunk")

    check_auto_options(
        rare_classes,
        group_sampling,
        None if pool_groups is None else [],
        labelled_groups,
        group_scores,
    )
    if pool_groups is not None and not isinstance(pool_groups, Mapping):
        raise ValidationError(
            "pool_groups must map each pool item id to its group", field="pool_groups"
        )

    def select(X: Any, n: int, ids: np.ndarray) -> Selection:
        groups = None if pool_groups is None else [pool_groups.get(i) for i in ids.tolist()]
        return select_batch(
            strategy,
            estimator,
            X_labelled,
            y_labelled,
            X,
            n,
            state=state,
            classes=classes,
            random_state=random_state,
            rare_classes=rare_classes,
            group_sampling=group_sampling,
            pool_groups=groups,
            labelled_groups=labelled_groups,
            group_scores=group_scores,
        )

    return _select_chunked(select, chunks, k, strategy=strategy, state=state, on_chunk=on_chunk)


def _select_chunked(
    select: Callable[[Any, int, np.ndarray], Selection],
    chunks: Iterable[tuple[Any, Any]],
    k: int,
    *,
    strategy: str,
    state: dict | None,
    on_chunk: Callable[[ChunkProposal], None] | None,
) -> ChunkedSelection:
    """:func:`select_chunked` once its own arguments are checked: ``select(rows, n)`` picks
    ``n`` of ``rows`` (with item ids ``ids``) as :func:`select_batch` does (which checks
    the rest)."""
    ids: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    proposed_ids: list[np.ndarray] = []
    proposed_rows: list[Any] = []
    last: Selection | None = None
    for chunk in chunks:
        if not isinstance(chunk, tuple | list) or len(chunk) != 2:
            raise ValidationError("each chunk must be a pair (item ids, rows)", field="chunks")
        chunk_ids, X = np.asarray(chunk[0]), chunk[1]
        X = check_features(X, "X_pool")
        n_rows = X.shape[0]
        if chunk_ids.shape != (n_rows,):
            raise ValidationError(
                f"a chunk has {chunk_ids.size} item ids for {n_rows} rows", field="chunks"
            )
        if n_rows == 0:
            continue
        last = select(X, min(k, n_rows), chunk_ids)
        proposal = ChunkProposal(chunk_ids, X, last)
        ids.append(chunk_ids)
        scores.append(np.asarray(last.scores))
        proposed_ids.append(proposal.proposed_ids)
        proposed_rows.append(X[last.indices])
        if on_chunk is not None:
            on_chunk(proposal)
    if last is None:
        empty = np.zeros(0, dtype=np.int64)
        return ChunkedSelection(empty, np.zeros(0), empty, [], strategy, dict(state or {}))
    if len(ids) == 1:
        batch_ids = proposed_ids[0]
    else:
        candidates = np.concatenate(proposed_ids)
        last = select(_stack(proposed_rows), min(k, candidates.size), candidates)
        batch_ids = candidates[last.indices]
    return ChunkedSelection(
        item_ids=np.concatenate(ids),
        scores=np.concatenate(scores),
        batch_ids=batch_ids,
        reasons=list(last.reasons),
        strategy=str(last.strategy),
        state=last.state,
    )


def _stack(blocks: list[Any]) -> Any:
    if any(sp.issparse(block) for block in blocks):
        return sp.vstack([sp.csr_matrix(block) for block in blocks], format="csr")
    return np.vstack([np.asarray(block) for block in blocks])
