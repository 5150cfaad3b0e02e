"""Label errors: how well each round's label check finds seeded label noise, and its cost.

For several scikit-learn bundled sets, labels are corrupted at 10% and 20%, uniformly
(any other class) or class-dependently (each class to one fixed other class). The
out-of-fold probabilities come from `labelloop.quality.out_of_fold_probabilities`
(logistic regression, 5 folds); on the same probabilities the flags of
`labelloop.quality.rank_label_issues` and of cleanlab's own ``find_label_issues`` are
scored (precision and recall against the corrupted rows). Then the ranking of 100k
items x 20 classes, given the probabilities, is timed against cleanlab's call alone.

Run: ``nice -n 10 .venv/bin/python benchmarks/label_errors.py [--seeds 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from cleanlab.filter import find_label_issues
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelloop.quality import out_of_fold_probabilities, rank_label_issues

SETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}


def corrupt(y: np.ndarray, rate: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    noisy = y.copy()
    k = int(y.max()) + 1
    rows = rng.choice(y.size, size=int(round(rate * y.size)), replace=False)
    if kind == "uniform":
        noisy[rows] = (y[rows] + rng.integers(1, k, size=rows.size)) % k
    else:  # class-dependent: each class to one other class
        target = rng.permutation(k)
        target = np.where(target == np.arange(k), (target + 1) % k, target)
        noisy[rows] = target[y[rows]]
    return noisy


def score(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = (flags & truth).sum()
    return hit / max(flags.sum(), 1), hit / max(truth.sum(), 1)


def quality_table(seeds: int) -> None:
    print("| set | noise | labelloop precision | recall | cleanlab precision | recall |")
    print("| --- | --- | --- | --- | --- | --- |")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    for name, load in SETS.items():
        X, y = load(return_X_y=True)
        for rate in (0.1, 0.2):
            for kind in ("uniform", "class"):
                ours, theirs = [], []
                for seed in range(seeds):
                    rng = np.random.default_rng(seed)
                    noisy = corrupt(y, rate, kind, rng)
                    truth = noisy != y
                    proba = out_of_fold_probabilities(model, X, noisy, random_state=seed)
                    ours.append(score(rank_label_issues(noisy, proba).is_issue, truth))
                    theirs.append(score(np.asarray(find_label_issues(noisy, proba)), truth))
                a, b = np.mean(ours, axis=0), np.mean(theirs, axis=0)
                print(
                    f"| {name} | {int(rate * 100)}% {kind} | {a[0]:.3f} | {a[1]:.3f} "
                    f"| {b[0]:.3f} | {b[1]:.3f} |"
                )


def timing() -> None:
    rng = np.random.default_rng(0)
    n, k = 100_000, 20
    logits = rng.normal(size=(n, k))
    y = rng.integers(0, k, size=n)
    logits[np.arange(n), y] += 3
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    t0 = time.perf_counter()
    find_label_issues(y, proba)
    cleanlab_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rank_label_issues(y, proba)
    ours_s = time.perf_counter() - t0
    print(
        f"\nranking 100k x 20: rank_label_issues {ours_s:.2f} s, cleanlab find_label_issues "
        f"{cleanlab_s:.2f} s, ratio {ours_s / cleanlab_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    quality_table(args.seeds)
    timing()


if __name__ == "__main__":
    main()
