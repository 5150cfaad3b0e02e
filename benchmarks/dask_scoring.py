"""Score N short texts from partitioned Parquet on a Dask LocalCluster, against one process.

The pool is N short texts (5 to 9 words from a 2,000-word vocabulary) written once as
Parquet files of ``--rows-per-file`` rows (pyarrow), kept in ``--dir`` for the next run.
The model is a linear classifier on hashed features (``HashingVectorizer``, 2**18
features, stateless, so the workers featurise their own partitions), fitted on 2,000
labelled texts. One margin selection of ``--k`` items is made three ways, side by side:

- **one process**: `labelloop.selection.select_chunked` over the same files, read and
  featurised one at a time in this process's child (the baseline);
- **1 worker** and **2 workers**: `labelloop.scale.select_on_dask` on a
  ``LocalCluster`` of one or two worker processes with one thread each; each worker reads
  its Parquet files itself (``load``) and sends back candidates and a histogram.

It prints the wall time of each (cluster start-up apart), the scaling from one to two
workers (speed-up over 2; 1.0 is linear), the peak resident memory of each worker
process (and of the one-process child), and whether the three batches are equal.
Progress goes to stderr, the result (Markdown) to stdout.

Usage::

    python benchmarks/dask_scoring.py --n 1000000      # about a minute on 2 cores
    python benchmarks/dask_scoring.py                  # 10,000,000 texts: the full run
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - pyarrow is a core dependency
    sys.exit("this benchmark reads partitioned Parquet: pip install pyarrow")

from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier

VOCABULARY = 2_000
N_FEATURES = 2**18
LABELLED = 2_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def featurizer() -> HashingVectorizer:
    return HashingVectorizer(n_features=N_FEATURES, alternate_sign=False, norm="l2")


def texts(rng: np.random.Generator, n: int) -> list[str]:
    """N texts of 5 to 9 words ``w<i>``; words below a tenth of the vocabulary lean positive."""
    lengths = rng.integers(5, 10, size=n)
    words = rng.integers(0, VOCABULARY, size=int(lengths.sum())).astype(str)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    return ["w" + " w".join(words[s:e]) for s, e in zip(starts, ends, strict=True)]


def write_pool(directory: Path, n: int, rows_per_file: int) -> list[str]:
    """The pool as Parquet files of ``rows_per_file`` rows (written once, then reused)."""
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / f"n{n}-r{rows_per_file}.done"
    paths = [
        str(directory / f"n{n}-r{rows_per_file}-part{i:05d}.parquet")
        for i in range(-(-n // rows_per_file))
    ]
    if done.exists():
        return paths
    rng = np.random.default_rng(0)
    for i, path in enumerate(paths):
        start = i * rows_per_file
        stop = min(start + rows_per_file, n)
        table = pa.table(
            {"id": np.arange(start, stop, dtype=np.int64), "text": texts(rng, stop - start)}
        )
        pq.write_table(table, path)
        log(f"  wrote {path} ({stop - start} rows)")
    done.touch()
    return paths


def load(path: str) -> tuple[np.ndarray, list[str]]:
    """Run on a worker: a partition's ids and texts."""
    table = pq.read_table(path, columns=["id", "text"])
    return table.column("id").to_numpy(), table.column("text").to_pylist()


def fitted_model() -> tuple[object, object, np.ndarray]:
    rng = np.random.default_rng(1)
    labelled = texts(rng, LABELLED)
    y = np.array([int(sum(int(w[1:]) < VOCABULARY // 10 for w in t.split()) > 0) for t in labelled])
    X = featurizer().transform(labelled)
    model = SGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    return model, X, y


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_process(paths: list[str], k: int, answer: multiprocessing.Queue) -> None:
    from labelloop.selection import select_chunked

    model, X, y = fitted_model()
    transform = featurizer().transform

    def chunks():
        for path in paths:
            ids, rows = load(path)
            yield ids, transform(rows)

    start = time.perf_counter()
    picked = select_chunked("margin", model, X, y, chunks(), k, random_state=0)
    seconds = time.perf_counter() - start
    answer.put((seconds, peak_rss_mb(), picked.batch_ids.tolist()))


def one_process(paths: list[str], k: int) -> tuple[float, float, list[int]]:
    """The baseline in a fresh child, so its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    child = context.Process(target=_one_process, args=(paths, k, answer))
    child.start()
    result = answer.get()
    child.join()
    return result


def on_cluster(paths: list[str], k: int, workers: int) -> dict:
    from distributed import Client, LocalCluster

    from labelloop.scale import select_on_dask

    model, X, y = fitted_model()
    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        ready = time.perf_counter() - started
        start = time.perf_counter()
        picked = select_on_dask(
            client, "margin", model, X, y, paths, k, random_state=0,
            load=load, featurize=featurizer().transform,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        peaks = sorted(client.run(peak_rss_mb).values())
    return {
        "seconds": seconds,
        "start_up": ready,
        "peaks": peaks,
        "batch": picked.batch_ids.tolist(),
        "candidates": int(picked.candidate_ids.size),
        "histogram": int(picked.histogram.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="texts in the pool")
    parser.add_argument("--rows-per-file", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=100, help="items to pick")
    parser.add_argument("--dir", type=Path, default=Path("bench-out/dask_scoring"))
    args = parser.parse_args()

    log(f"writing {args.n} texts as Parquet under {args.dir} (once) ...")
    paths = write_pool(args.dir, args.n, args.rows_per_file)
    log("one process ...")
    alone, alone_peak, alone_batch = one_process(paths, args.k)
    log(f"  {alone:.1f} s")
    runs = {}
    for workers in (1, 2):
        log(f"{workers} worker(s) ...")
        runs[workers] = on_cluster(paths, args.k, workers)
        log(f"  {runs[workers]['seconds']:.1f} s")
    speed_up = runs[1]["seconds"] / runs[2]["seconds"]
    equal = alone_batch == runs[1]["batch"] == runs[2]["batch"]

    print(f"## Dask scoring: {args.n:,} texts in {len(paths)} Parquet files\n")
    print(
        f"{platform.processor() or platform.machine()}, "
        f"{multiprocessing.cpu_count()} cores, Python {platform.python_version()}; "
        f"margin, k={args.k}, {N_FEATURES} hashed features\n"
    )
    print("| path | wall (s) | vs one process | peak memory per process (MB) |")
    print("| --- | ---: | ---: | --- |")
    print(f"| one process | {alone:.1f} | 1.00 | {alone_peak:.0f} |")
    for workers, run in runs.items():
        peaks = ", ".join(f"{p:.0f}" for p in run["peaks"])
        print(
            f"| {workers} worker{'s' if workers > 1 else ''} | {run['seconds']:.1f} "
            f"| {alone / run['seconds']:.2f} | {peaks} |"
        )
    print(
        f"\nscaling 1 -> 2 workers: speed-up {speed_up:.2f}, {speed_up / 2:.2f} of linear; "
        f"cluster start-up {runs[1]['start_up']:.1f} s / {runs[2]['start_up']:.1f} s (apart); "
        f"candidates sent back {runs[2]['candidates']:,} of {args.n:,} rows, histogram "
        f"counts {runs[2]['histogram']:,}; batches equal: {equal}"
    )


if __name__ == "__main__":
    main()
