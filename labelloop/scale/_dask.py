"""Chunked selection with the chunks scored on a Dask cluster.

Rules kept here:

1. The same answer as one process: each partition is scored by
   :func:`labelloop.selection.select_batch` and proposes ``min(k, rows)`` candidates with
   the same arguments as every other partition (an int seed starts afresh in each), and
   the proposals compete in one more call among their rows stacked in partition order,
   whatever order the workers finish in. So :func:`select_on_dask` over a list of
   partitions equals :func:`labelloop.selection.select_chunked` over the same list as
   chunks, ties included. A ``numpy.random.Generator`` is refused: it cannot be shared
   between workers.
2. The model, the labelled set and the hooks go to the workers once (``scatter`` with
   ``broadcast=True``); a partition's task carries only its rows, or what ``load`` reads
   them from.
3. A partition returns its candidates (ids, rows, scores, and with ``measure`` their
   probabilities and informativeness), a histogram of its informativeness over fixed
   edges, its row count and its highest informativeness: never a score per row.
4. Work resumes per partition: a partition whose worker dies is run again by the
   scheduler on another worker (``distributed.scheduler.allowed-failures`` times), one
   that raises is retried ``retries`` times; the partitions already done are kept.
   A partition that still fails stops the selection with its error; nothing partial is
   returned.
5. At most ``max_in_flight`` partitions are submitted at a time, so a pool read lazily
   (pages of a database) is never held whole by the caller or the scheduler.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop.exceptions import ValidationError
from labelloop.selection import check_strategy, select_batch
from labelloop.selection._batch import check_features, check_state
from labelloop.strategies._validation import check_k

__all__ = [
    "DASK_ENV",
    "DaskSelection",
    "PartitionResult",
    "dask_address",
    "dask_client",
    "select_on_dask",
]

DASK_ENV = "LABELLOOP_DASK"
_INSTALL = "pip install 'labelloop[scale]'"
_DEFAULT_EDGES = np.linspace(0.0, 1.0, 21)


def dask_address(address: str | None = None) -> str | None:
    """The scheduler address to score on: ``address``, else ``$LABELLOOP_DASK``, else None.

    An empty string means no cluster, so ``LABELLOOP_DASK=`` turns it off.

    Examples
    --------
    >>> dask_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    if address is None:
        address = os.environ.get(DASK_ENV)
    if address is None:
        return None
    if not isinstance(address, str):
        raise ValidationError("the Dask scheduler address must be a string", field="dask")
    return address.strip() or None


@contextlib.contextmanager
def dask_client(address: Any, *, timeout: float = 30) -> Iterator[Any]:
    """A ``distributed.Client`` for ``address`` (closed on exit), or ``address`` if it is one.

    Raises
    ------
    ValidationError
        ``field="dask"``: the ``[scale]`` extra is not installed, or no scheduler answers
        at ``address`` within ``timeout`` seconds.
    """
    try:
        import distributed
    except ImportError as exc:
        raise ValidationError(
            f"scoring on Dask needs the scale extra ({_INSTALL})", field="dask"
        ) from exc
    if isinstance(address, distributed.Client):
        yield address
        return
    if not isinstance(address, str) or not address.strip():
        raise ValidationError(
            "dask must be a scheduler address such as tcp://host:8786", field="dask"
        )
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ValidationError(
            f"no Dask scheduler answered at {address} ({type(exc).__name__}: {exc}); "
            f"start one (dask scheduler) or unset {DASK_ENV}",
            field="dask",
        ) from exc
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class PartitionResult:
    """What one partition sends back (rule 3).

    Attributes
    ----------
    index : int
        The partition's place in the order it was given.
    n_rows : int
        Rows scored.
    candidate_ids, candidate_scores : ndarray of shape (n_candidates,)
        The partition's proposal in pick order, with the strategy's scores.
    candidate_rows : ndarray or CSR matrix of shape (n_candidates, n_features)
        Their featurised rows, for the proposals to compete.
    candidate_proba : ndarray of shape (n_candidates, n_classes) or None
        Their probabilities, when ``measure`` was given.
    candidate_informativeness : ndarray of shape (n_candidates,)
        Their informativeness: ``measure``'s, else the strategy's scores.
    histogram : ndarray of shape (n_bins,)
        How many rows fall in each bin of the edges (values outside are counted in the
        first or last bin).
    max_informativeness : float or None
        The highest informativeness of the partition (None without rows).
    reasons : list of str
        Why each candidate was proposed.
    strategy : str
        The strategy the partition's selection used.
    state : dict
        The partition's selection state.
    """

    index: int
    n_rows: int
    candidate_ids: np.ndarray
    candidate_scores: np.ndarray
    candidate_rows: Any
    candidate_proba: np.ndarray | None
    candidate_informativeness: np.ndarray
    histogram: np.ndarray
    max_informativeness: float | None
    reasons: list[str]
    strategy: str
    state: dict


@dataclass(frozen=True)
class DaskSelection:
    """A batch picked from a pool scored on a Dask cluster.

    Attributes
    ----------
    n_pool : int
        Rows scored over every partition.
    n_partitions : int
        Partitions scored (those without rows included).
    candidate_ids : ndarray of shape (n_candidates,)
        Every partition's proposal, in partition order.
    candidate_scores, candidate_informativeness : ndarray of shape (n_candidates,)
        Aligned with ``candidate_ids``.
    candidate_proba : ndarray of shape (n_candidates, n_classes) or None
        Aligned with ``candidate_ids``, when ``measure`` was given.
    batch_ids : ndarray of shape (k,)
        The picked item ids, in pick order.
    reasons : list of str
        Aligned with ``batch_ids``.
    strategy : str
    state : dict
        As :class:`labelloop.selection.ChunkedSelection`.
    histogram : ndarray of shape (n_bins,)
        The pool's informativeness, counted over ``edges``.
    edges : ndarray of shape (n_bins + 1,)
    max_informativeness : float or None
        The pool's highest informativeness.
    """

    n_pool: int
    n_partitions: int
    candidate_ids: np.ndarray
    candidate_scores: np.ndarray
    candidate_informativeness: np.ndarray
    candidate_proba: np.ndarray | None
    batch_ids: np.ndarray
    reasons: list[str]
    strategy: str
    state: dict = field(default_factory=dict)
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    edges: np.ndarray = field(default_factory=lambda: _DEFAULT_EDGES.copy())
    max_informativeness: float | None = None


@dataclass(frozen=True)
class _Shared:
    """What every partition needs, sent to the workers once (rule 2)."""

    strategy: str
    estimator: Any
    X_labelled: Any
    y_labelled: Any
    k: int
    state: dict | None
    classes: Sequence[Any] | None
    random_state: int | None
    load: Callable[[Any], tuple[Any, Any]] | None
    featurize: Callable[[Any], Any] | None
    measure: Callable[[Any], tuple[np.ndarray, np.ndarray]] | None
    edges: np.ndarray


def _select(shared: _Shared, X: Any, n: int) -> Any:
    return select_batch(
        shared.strategy,
        shared.estimator,
        shared.X_labelled,
        shared.y_labelled,
        X,
        n,
        state=shared.state,
        classes=shared.classes,
        random_state=shared.random_state,
    )


def _score_partition(shared: _Shared, index: int, partition: Any) -> PartitionResult:
    """Run on a worker: one partition's proposal and histogram (rules 1 and 3)."""
    if shared.load is not None:
        partition = shared.load(partition)
    if not isinstance(partition, tuple | list) or len(partition) != 2:
        raise ValidationError(
            f"partition {index} must be a pair (item ids, rows)", field="partitions"
        )
    ids = np.asarray(partition[0])
    rows = partition[1]
    X = check_features(shared.featurize(rows) if shared.featurize else rows, "X_pool")
    n_rows = X.shape[0]
    if ids.shape != (n_rows,):
        raise ValidationError(
            f"partition {index} has {ids.size} item ids for {n_rows} rows", field="partitions"
        )
    if n_rows == 0:
        return PartitionResult(
            index, 0, ids, np.zeros(0), X, None, np.zeros(0),
            np.zeros(shared.edges.size - 1, np.int64), None, [], shared.strategy, {},
        )  # fmt: skip
    selection = _select(shared, X, min(shared.k, n_rows))
    picked = np.asarray(selection.indices)
    scores = np.asarray(selection.scores, dtype=np.float64)
    proba = None
    informativeness = scores
    if shared.measure is not None:
        proba, informativeness = shared.measure(X)
        informativeness = np.asarray(informativeness, dtype=np.float64)
    clipped = np.clip(informativeness, shared.edges[0], shared.edges[-1])
    return PartitionResult(
        index=index,
        n_rows=n_rows,
        candidate_ids=ids[picked],
        candidate_scores=scores[picked],
        candidate_rows=X[picked],
        candidate_proba=None if proba is None else np.asarray(proba)[picked],
        candidate_informativeness=informativeness[picked],
        histogram=np.histogram(clipped, bins=shared.edges)[0],
        max_informativeness=float(informativeness.max()),
        reasons=list(selection.reasons),
        strategy=str(selection.strategy),
        state=dict(selection.state),
    )


def _check_edges(edges: Any) -> np.ndarray:
    if edges is None:
        return _DEFAULT_EDGES.copy()
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValidationError("edges must be at least two increasing numbers", field="edges")
    return edges


def select_on_dask(
    client: Any,
    strategy: str,
    estimator: Any,
    X_labelled: Any,
    y_labelled: Any,
    partitions: Iterable[Any],
    k: int,
    *,
    state: dict | None = None,
    classes: Sequence[Any] | None = None,
    random_state: int | None = None,
    load: Callable[[Any], tuple[Any, Any]] | None = None,
    featurize: Callable[[Any], Any] | None = None,
    measure: Callable[[Any], tuple[np.ndarray, np.ndarray]] | None = None,
    edges: Any = None,
    retries: int = 2,
    max_in_flight: int | None = None,
    on_partition: Callable[[PartitionResult], None] | None = None,
) -> DaskSelection:
    """Pick ``k`` pool items with the pool's partitions scored on a Dask cluster.

    Parameters
    ----------
    client : distributed.Client or str
        A client, or a scheduler address (a client is opened and closed here).
    strategy, estimator, X_labelled, y_labelled, k, state, classes
        As for :func:`labelloop.selection.select_chunked`.
    partitions : iterable
        The pool a partition at a time, read once, lazily: pairs ``(item ids, rows)``,
        or with ``load`` whatever ``load`` turns into such a pair on a worker (a Parquet
        path, a range of ids).
    random_state : int or None
        A seed, starting afresh in every partition (rule 1); a Generator is refused.
    load : callable, optional
        ``load(partition) -> (item ids, rows)``, run on the worker.
    featurize : callable, optional
        ``featurize(rows) -> features``, run on the worker (a fitted featurizer's
        ``transform``).
    measure : callable, optional
        ``measure(features) -> (probabilities, informativeness)``, run on the worker:
        the histogram counts this informativeness, and each candidate's probabilities
        come back. Without it the histogram counts the strategy's scores.
    edges : array-like, optional
        The histogram's bin edges, increasing; default 20 bins over [0, 1].
    retries : int
        Times a partition that raises is run again (a dead worker's partitions are
        rescheduled by the scheduler anyway).
    max_in_flight : int, optional
        Partitions submitted at a time; default twice the workers' threads.
    on_partition : callable, optional
        Called with each :class:`PartitionResult` as it arrives (in finishing order).

    Returns
    -------
    DaskSelection
        Equal to :func:`labelloop.selection.select_chunked` over the same partitions.

    Raises
    ------
    ValidationError
        Bad arguments (before anything is sent), no ``[scale]`` extra or no scheduler
        at the address (``field="dask"``), or a partition's own error.

    Examples
    --------
    >>> from distributed import LocalCluster
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X[::10], y[::10])
    >>> parts = [(np.arange(i, i + 50), X[i : i + 50]) for i in (0, 50, 100)]
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
    ...     picked = select_on_dask(cluster.scheduler_address, "margin", model,
    ...                             X[::10], y[::10], parts, 4, random_state=0)
    >>> picked.batch_ids.shape, int(picked.histogram.sum()), picked.n_partitions
    ((4,), 150, 3)
    """
    strategy = check_strategy(strategy)
    k = check_k(k, sys.maxsize)
    state = check_state(state)
    if isinstance(random_state, np.random.Generator) or not (
        random_state is None
        or (isinstance(random_state, int | np.integer) and not isinstance(random_state, bool))
    ):
        raise ValidationError(
            "random_state must be an int seed or None on Dask: a Generator cannot be "
            "shared between workers",
            field="random_state",
        )
    if random_state is not None and random_state < 0:
        raise ValidationError("random_state must be a non-negative seed", field="random_state")
    for name, hook in (("load", load), ("featurize", featurize), ("measure", measure)):
        if hook is not None and not callable(hook):
            raise ValidationError(f"{name} must be a callable or None", field=name)
    if on_partition is not None and not callable(on_partition):
        raise ValidationError("on_partition must be a callable or None", field="on_partition")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValidationError("retries must be an int >= 0", field="retries")
    if max_in_flight is not None and (
        isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
    ):
        raise ValidationError("max_in_flight must be None or an int >= 1", field="max_in_flight")
    if not isinstance(partitions, Iterable):
        raise ValidationError("partitions must be an iterable", field="partitions")
    shared = _Shared(
        strategy, estimator, X_labelled, y_labelled, k, state, classes,
        None if random_state is None else int(random_state), load, featurize, measure,
        _check_edges(edges),
    )  # fmt: skip
    with dask_client(client) as connected:
        results = _run(connected, shared, partitions, retries, max_in_flight, on_partition)
    return _merge(shared, results)


def _run(
    client: Any,
    shared: _Shared,
    partitions: Iterable[Any],
    retries: int,
    max_in_flight: int | None,
    on_partition: Callable[[PartitionResult], None] | None,
) -> list[PartitionResult]:
    """Submit the partitions, a bounded number at a time (rule 5), and gather them."""
    from distributed import as_completed

    if max_in_flight is None:
        threads = sum(client.nthreads().values()) or 1
        max_in_flight = 2 * threads
    # One copy per worker, sent once; hash=False: tokenising a model costs more than it saves.
    shared_future = client.scatter(shared, broadcast=True, hash=False)
    run = uuid.uuid4().hex[:12]
    numbered = enumerate(partitions)
    pending = as_completed(loop=client.loop)
    results: list[PartitionResult] = []

    def submit(batch: Iterable[tuple[int, Any]]) -> None:
        for index, partition in batch:
            pending.add(
                client.submit(
                    _score_partition, shared_future, index, partition,
                    key=f"labelloop-partition-{run}-{index}", retries=retries, pure=False,
                )
            )  # fmt: skip

    try:
        submit(itertools.islice(numbered, max_in_flight))
        for future in pending:
            result = future.result()
            future.release()
            results.append(result)
            if on_partition is not None:
                on_partition(result)
            submit(itertools.islice(numbered, 1))
    finally:
        for future in list(pending.futures):
            future.cancel()
        shared_future.release()
    return sorted(results, key=lambda result: result.index)


def _merge(shared: _Shared, results: list[PartitionResult]) -> DaskSelection:
    """The proposals compete in partition order, as chunks' do (rule 1)."""
    edges = shared.edges
    histogram = np.zeros(edges.size - 1, np.int64)
    for result in results:
        histogram += result.histogram
    scored = [result for result in results if result.n_rows]
    maxima = [result.max_informativeness for result in scored]
    empty = np.zeros(0, dtype=np.int64)
    if not scored:
        return DaskSelection(
            0, len(results), empty, np.zeros(0), np.zeros(0), None, empty, [],
            shared.strategy, dict(shared.state or {}), histogram, edges, None,
        )  # fmt: skip
    candidates = np.concatenate([result.candidate_ids for result in scored])
    if len(scored) == 1:
        only = scored[0]
        batch_ids, reasons, strategy, state = (
            only.candidate_ids,
            only.reasons,
            only.strategy,
            only.state,
        )
    else:
        rows = _stack([result.candidate_rows for result in scored])
        final = _select(shared, rows, min(shared.k, candidates.size))
        batch_ids = candidates[np.asarray(final.indices)]
        reasons, strategy, state = list(final.reasons), str(final.strategy), final.state
    proba = None
    if shared.measure is not None:
        proba = np.concatenate([result.candidate_proba for result in scored])
    return DaskSelection(
        n_pool=sum(result.n_rows for result in results),
        n_partitions=len(results),
        candidate_ids=candidates,
        candidate_scores=np.concatenate([result.candidate_scores for result in scored]),
        candidate_informativeness=np.concatenate(
            [result.candidate_informativeness for result in scored]
        ),
        candidate_proba=proba,
        batch_ids=batch_ids,
        reasons=list(reasons),
        strategy=strategy,
        state=dict(state),
        histogram=histogram,
        edges=edges,
        max_informativeness=float(max(maxima)),
    )


def _stack(blocks: list[Any]) -> Any:
    if any(sp.issparse(block) for block in blocks):
        return sp.vstack([sp.csr_matrix(block) for block in blocks], format="csr")
    return np.vstack([np.asarray(block) for block in blocks])
