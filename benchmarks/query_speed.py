"""Time one batch selection on large pools, against the predict_proba floor and the peers.

Sections (all in one run, so ratios compare like with like on the same machine):

1. Uncertainty on pools of 100k and 1M items (``--quick``: 10k and 100k): the floor is
   ``LogisticRegression.predict_proba`` on the pool; labelloop's margin and entropy picks
   are timed on the precomputed probabilities and end to end (floor + selection);
   scikit-activeml's ``UncertaintySampling(margin_sampling)`` and small-text's
   ``BreakingTies`` query end to end with the same fitted model; small-text's
   ``PredictionEntropy`` (a per-row Python loop) at the smaller pool only.
2. k-center greedy, 100 picks from 100k x 384 float32 embeddings with 100 labelled
   (``--quick``: 20k): labelloop against scikit-activeml ``CoreSet`` and small-text
   ``GreedyCoreset``. The peers are capped: each runs a few picks and its time for 100 is
   extrapolated from its own cost model, and the table says so.
3. Clustering: labelloop ``cluster_diverse`` and ``badge`` on the same embeddings, beside
   small-text ``EmbeddingKMeans`` (scikit-learn KMeans on the whole pool).
4. Sparse clustering: ``cluster_diverse`` on a TF-IDF-shaped CSR pool of 100k rows over a
   50k-word vocabulary (``--quick``: 20k), the clustering that ``auto`` runs on text
   features, beside the same job done with scikit-learn's ``KMeans`` (one k-means++ start,
   10 iterations on the same 10k-row subsample, then ``predict`` on the pool).

The floor and labelloop's end-to-end selections are timed in alternation (best of five
each), so that load from other processes hits them alike. Each other measurement is
timed without tracing (best of a few repeats for fast calls), then
re-run once under ``tracemalloc`` for its peak memory (numpy allocations are traced).
The slowest peer calls, made of a few large array operations, run once under tracing
instead; per-row Python loops are timed on a slice and scaled. The table notes each case.
Progress goes to stderr; the result table (Markdown) to stdout.

Usage::

    python benchmarks/query_speed.py            # full sizes (about 10 minutes on 2 cores)
    python benchmarks/query_speed.py --quick    # small sizes (a few minutes)
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from labelloop import strategies

N_CLASSES = 10
N_FEATURES = 128
EMBEDDING_DIM = 384
BATCH = 100
N_LABELLED = 100


@dataclass(frozen=True)
class Row:
    section: str
    pool: str
    method: str
    seconds: float
    ratio: float
    ratio_to: str
    peak_mib: float
    note: str = ""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(fn: Callable[[], object], repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def measure(fn: Callable[[], object], repeats: int = 5) -> tuple[float, float]:
    """(best wall time in seconds, peak traced MiB) of ``fn``."""
    return timed(fn, repeats), peak_mib(fn)


def measure_once_traced(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall time, peak MiB) of one run under tracing, for slow calls made of large arrays."""
    tracemalloc.start()
    try:
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak / 2**20


class _FixedModel:
    """Hands small-text the fitted scikit-learn model's probabilities for its dataset."""

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model

    def predict_proba(self, dataset: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(dataset)


def make_pool(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    teacher = rng.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    y = (X @ teacher + rng.standard_normal((n, N_CLASSES), dtype=np.float32)).argmax(axis=1)
    return X, y


def uncertainty_section(n: int, rng: np.random.Generator, slow_peers: bool) -> list[Row]:
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
    from small_text.query_strategies import BreakingTies, PredictionEntropy

    pool = f"{n:,} x {N_FEATURES}, {N_CLASSES} classes"
    log(f"[uncertainty] building a pool of {pool}")
    X, y_true = make_pool(n, rng)
    y = np.full(n, np.nan)
    y[:2000] = y_true[:2000]
    peer_model = SklearnClassifier(
        LogisticRegression(max_iter=300), classes=np.arange(N_CLASSES), random_state=0
    ).fit(X, y)
    model = peer_model.estimator_
    rows: list[Row] = []

    proba = model.predict_proba(X)
    scores = {"margin": strategies.margin, "entropy": strategies.entropy}

    def end_to_end(score) -> np.ndarray:
        return strategies.top_k(score(model.predict_proba(X)), BATCH, random_state=0)

    # The floor and the end-to-end runs alternate, so load from other work hits both alike.
    log("[uncertainty] predict_proba floor and labelloop end to end, interleaved")
    calls = {"floor": lambda: model.predict_proba(X)}
    calls.update({name: (lambda score=score: end_to_end(score)) for name, score in scores.items()})
    best = dict.fromkeys(calls, np.inf)
    for _ in range(5):
        for name, call in calls.items():
            best[name] = min(best[name], timed(call, 1))
    floor = best["floor"]
    rows.append(
        Row(
            "uncertainty",
            pool,
            "predict_proba (floor)",
            floor,
            1.0,
            "floor",
            peak_mib(calls["floor"]),
        )
    )
    for name, score in scores.items():
        log(f"[uncertainty] labelloop {name} on precomputed probabilities")
        seconds, peak = measure(
            lambda score=score: strategies.top_k(score(proba), BATCH, random_state=0)
        )
        rows.append(
            Row(
                "uncertainty",
                pool,
                f"labelloop {name} + top_k (on precomputed proba)",
                seconds,
                seconds / floor,
                "floor",
                peak,
            )
        )
        rows.append(
            Row(
                "uncertainty",
                pool,
                f"labelloop {name}, end to end (predict_proba + select)",
                best[name],
                best[name] / floor,
                "floor",
                peak_mib(calls[name]),
            )
        )

    log("[uncertainty] scikit-activeml UncertaintySampling(margin_sampling)")
    sampler = UncertaintySampling(method="margin_sampling", random_state=0)
    y_pool = np.full(n, np.nan)
    seconds, peak = measure(
        lambda: sampler.query(X, y_pool, peer_model, fit_clf=False, batch_size=BATCH), repeats=1
    )
    rows.append(
        Row(
            "uncertainty",
            pool,
            "scikit-activeml UncertaintySampling margin, end to end",
            seconds,
            seconds / floor,
            "floor",
            peak,
        )
    )

    fixed = _FixedModel(model)
    log("[uncertainty] small-text BreakingTies")
    seconds, peak = measure(
        lambda: BreakingTies().query(fixed, X, np.arange(n), np.arange(0), None, n=BATCH),
        repeats=1,
    )
    rows.append(
        Row(
            "uncertainty",
            pool,
            "small-text BreakingTies, end to end",
            seconds,
            seconds / floor,
            "floor",
            peak,
        )
    )
    if slow_peers:
        # A per-row Python loop: linear in the pool, so time a slice and scale it up.
        part = min(n, 10_000)
        log(f"[uncertainty] small-text PredictionEntropy (capped: {part:,} rows)")
        X_part = X[:part]
        seconds, peak = measure(
            lambda: PredictionEntropy().query(
                fixed, X_part, np.arange(part), np.arange(0), None, n=BATCH
            ),
            repeats=1,
        )
        rows.append(
            Row(
                "uncertainty",
                pool,
                "small-text PredictionEntropy, end to end",
                seconds * n / part,
                seconds * n / part / floor,
                "floor",
                peak,
                f"timed on {part:,} rows, scaled linearly; peak at {part:,} rows"
                if part < n
                else "",
            )
        )
    return rows


def linear_extrapolation(run: Callable[[int], object], k_small: int, k_large: int):
    """Time ``run(k)`` at two batch sizes; return (seconds for BATCH, peak MiB at k_large)."""
    small = timed(lambda: run(k_small), 1)
    large = timed(lambda: run(k_large), 1)
    per_pick = max(large - small, 0.0) / (k_large - k_small)
    fixed_cost = max(small - per_pick * k_small, 0.0)
    return fixed_cost + per_pick * BATCH, peak_mib(lambda: run(k_large))


def diversity_section(n: int, rng: np.random.Generator) -> list[Row]:
    from skactiveml.pool import CoreSet
    from small_text.query_strategies import EmbeddingKMeans
    from small_text.query_strategies.coresets import greedy_coreset

    pool = f"{n:,} x {EMBEDDING_DIM} float32"
    log(f"[diversity] building {pool} embeddings")
    centers = rng.standard_normal((50, EMBEDDING_DIM), dtype=np.float32) * 2
    X = centers[rng.integers(50, size=n)] + rng.standard_normal(
        (n, EMBEDDING_DIM), dtype=np.float32
    )
    labelled = np.arange(N_LABELLED)
    unlabelled = np.arange(N_LABELLED, n)
    rows: list[Row] = []

    log("[diversity] labelloop k_center_greedy")
    ours, peak = measure(
        lambda: strategies.k_center_greedy(X, BATCH, labeled=labelled, random_state=0)
    )
    rows.append(
        Row(
            "k-center",
            pool,
            f"labelloop k_center_greedy, {BATCH} picks",
            ours,
            1.0,
            "labelloop",
            peak,
        )
    )

    log("[diversity] scikit-activeml CoreSet (capped: 5 and 15 picks)")
    y = np.full(n, np.nan)
    y[labelled] = 0

    def coreset(k: int) -> np.ndarray:
        return CoreSet(random_state=0).query(X, y, batch_size=k)

    seconds, peak = linear_extrapolation(coreset, 5, 15)
    rows.append(
        Row(
            "k-center",
            pool,
            f"scikit-activeml CoreSet, {BATCH} picks",
            seconds,
            seconds / ours,
            "labelloop",
            peak,
            "extrapolated linearly from 5 and 15 picks; peak at 15 picks",
        )
    )

    k_run = 2
    log(f"[diversity] small-text greedy_coreset (capped: {k_run} picks)")
    sample_time, peak = measure_once_traced(
        lambda: greedy_coreset(X, unlabelled, labelled, k_run, distance_metric="euclidean")
    )
    # Its pick i measures distances to all labelled + i picked items: cost grows with the set.
    work = sum(N_LABELLED + i for i in range(BATCH)) / sum(N_LABELLED + i for i in range(k_run))
    rows.append(
        Row(
            "k-center",
            pool,
            f"small-text GreedyCoreset (euclidean), {BATCH} picks",
            sample_time * work,
            sample_time * work / ours,
            "labelloop",
            peak,
            f"extrapolated from {k_run} picks by its per-pick cost (labelled + picked); "
            "one run, under tracing",
        )
    )

    scores = rng.random(n)
    log("[diversity] labelloop cluster_diverse")
    ours_cluster, peak = measure(
        lambda: strategies.cluster_diverse(scores, X, BATCH, random_state=0), repeats=2
    )
    rows.append(
        Row(
            "clustering",
            pool,
            f"labelloop cluster_diverse, {BATCH} picks",
            ours_cluster,
            1.0,
            "labelloop",
            peak,
            f"{2 * BATCH} clusters, k-means on a 10k-row subsample",
        )
    )

    proba = rng.dirichlet(np.ones(N_CLASSES), size=n)
    log("[diversity] labelloop badge")
    seconds, peak = measure(lambda: strategies.badge(proba, X, BATCH, random_state=0), repeats=2)
    rows.append(
        Row(
            "clustering",
            pool,
            f"labelloop badge, {BATCH} picks",
            seconds,
            seconds / ours_cluster,
            "labelloop cluster_diverse",
            peak,
        )
    )

    log("[diversity] small-text EmbeddingKMeans")
    kmeans = EmbeddingKMeans(normalize=False)
    everything = np.arange(n)
    seconds, peak = measure_once_traced(
        lambda: kmeans.sample(None, None, everything, np.arange(0), None, BATCH, X)
    )
    rows.append(
        Row(
            "clustering",
            pool,
            f"small-text EmbeddingKMeans, {BATCH} picks",
            seconds,
            seconds / ours_cluster,
            "labelloop cluster_diverse",
            peak,
            "scikit-learn KMeans on the whole pool",
        )
    )
    return rows


def make_sparse_pool(n: int, rng: np.random.Generator, vocabulary: int = 50_000) -> sp.csr_matrix:
    """TF-IDF-shaped rows: 20 words each, half from one of 50 topics' 500 words, half from a
    Zipf-like draw over the vocabulary; positive weights, rows L2-normalised."""
    words_per_row = 20
    topics = rng.integers(50, size=n)
    topical = topics[:, None] * 500 + rng.integers(500, size=(n, words_per_row // 2))
    common = np.minimum(rng.zipf(1.3, size=(n, words_per_row // 2)), vocabulary) - 1
    columns = np.concatenate([topical, common], axis=1).ravel()
    rows = np.repeat(np.arange(n), words_per_row)
    values = rng.uniform(0.5, 1.5, size=columns.size)
    X = sp.csr_matrix((values, (rows, columns)), shape=(n, vocabulary))
    X.sum_duplicates()
    return normalize(X)


def sparse_section(n: int, rng: np.random.Generator) -> list[Row]:
    from sklearn.cluster import KMeans

    X = make_sparse_pool(n, rng)
    pool = f"{n:,} x {X.shape[1]:,} CSR, {X.nnz / n:.0f} nonzeros a row"
    scores = rng.random(n)
    n_clusters, sample_size = 2 * BATCH, 10_000
    log("[sparse] labelloop cluster_diverse")
    ours, peak = measure(
        lambda: strategies.cluster_diverse(scores, X, BATCH, random_state=0), repeats=2
    )
    rows = [
        Row(
            "sparse clustering",
            pool,
            f"labelloop cluster_diverse, {BATCH} picks",
            ours,
            1.0,
            "labelloop",
            peak,
            f"{n_clusters} clusters, k-means on a {sample_size // 1000}k-row subsample",
        )
    ]

    def sklearn_clusters() -> np.ndarray:
        sample = X[np.sort(np.random.default_rng(0).choice(n, size=sample_size, replace=False))]
        kmeans = KMeans(n_clusters, n_init=1, max_iter=10, random_state=0).fit(sample)
        return kmeans.predict(X)

    log("[sparse] scikit-learn KMeans, the same job")
    seconds, peak = measure(sklearn_clusters, repeats=2)
    rows.append(
        Row(
            "sparse clustering",
            pool,
            f"scikit-learn KMeans: {n_clusters} clusters of the subsample, predict on the pool",
            seconds,
            seconds / ours,
            "labelloop cluster_diverse",
            peak,
            "clustering only: no uncertainty ranking, no picks",
        )
    )
    return rows


def print_table(rows: list[Row]) -> None:
    print("| section | pool | method | seconds | ratio | ratio to | peak MiB | note |")
    print("| --- | --- | --- | ---: | ---: | --- | ---: | --- |")
    for row in rows:
        print(
            f"| {row.section} | {row.pool} | {row.method} | {row.seconds:.3f} | "
            f"{row.ratio:.2f}x | {row.ratio_to} | {row.peak_mib:.1f} | {row.note} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small pools, a few minutes")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="cap BLAS/OpenMP threads for every library alike (1 on a busy shared machine)",
    )
    args = parser.parse_args(argv)
    with threadpool_limits(args.blas_threads):
        run(quick=args.quick, blas_threads=args.blas_threads)


def run(*, quick: bool, blas_threads: int | None) -> None:
    rng = np.random.default_rng(0)
    uncertainty_pools = (10_000, 100_000) if quick else (100_000, 1_000_000)
    embedding_pool = 20_000 if quick else 100_000
    started = time.perf_counter()
    rows: list[Row] = []
    for position, n in enumerate(uncertainty_pools):
        rows += uncertainty_section(n, rng, slow_peers=position == 0)
    rows += diversity_section(embedding_pool, rng)
    rows += sparse_section(embedding_pool, rng)
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}, BLAS threads {blas_threads or 'default'}, batch k = {BATCH}; "
        f"total run {time.perf_counter() - started:.0f} s\n"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
