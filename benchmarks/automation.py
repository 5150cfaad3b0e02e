"""Auto-labelling at a certified precision, against the naive rule, over seeded runs.

For each data set (bundled with scikit-learn, or made by ``make_classification``: all
offline) and each calibration size, every repetition draws a fresh split: a training
set the model is fitted on, a random calibration sample (its labels play the people's),
and the pool the threshold is applied to. Two rules pick the threshold on the same grid
(`labelloop.automation.threshold_grid`):

- certified: `labelloop.automation.calibrate_threshold` (Clopper-Pearson, fixed-sequence
  testing, target ``p*`` with risk ``delta``);
- naive: the lowest threshold whose calibration precision reaches ``p*`` (what a
  validation-sample rule does).

Reported per (data set, calibration size): the share of runs whose realised precision on
the auto-labelled pool falls below ``p*`` (the guarantee says at most ``delta`` for the
certified rule), the share of runs that auto-label anything, the mean coverage (share
of the pool auto-labelled) and the mean gap to the best threshold in hindsight (the
lowest grid threshold whose precision on the pool reaches ``p*``).

Run: ``nice -n 10 .venv/bin/python benchmarks/automation.py --runs 200``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelloop.automation import calibrate_threshold, threshold_grid

TARGET = 0.95
RISK = 0.05


@dataclass(frozen=True)
class Case:
    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    model: Callable[[], object]
    n_train: int
    calibration_sizes: tuple[int, ...]


def _synthetic(n_classes: int, sep: float, flip: float) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        return make_classification(
            n_samples=40_000, n_features=20, n_informative=8, n_classes=n_classes,
            n_clusters_per_class=2, class_sep=sep, flip_y=flip, random_state=7,
        )  # fmt: skip

    return load


def _logistic() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


CASES = (
    Case("digits (LR)", lambda: load_digits(return_X_y=True), _logistic, 400, (300, 600)),
    Case("breast cancer (LR)", lambda: load_breast_cancer(return_X_y=True), _logistic, 100,
         (200,)),
    Case("synthetic 3 classes (LR)", _synthetic(3, 2.0, 0.02), _logistic, 2000,
         (100, 300, 1000, 3000)),
    Case("synthetic 5 classes (naive Bayes)", _synthetic(5, 2.5, 0.01), GaussianNB, 2000,
         (300, 1000, 3000)),
)  # fmt: skip


def _precision_at(proba: np.ndarray, y: np.ndarray, threshold: float | None) -> tuple[float, float]:
    """Realised precision and coverage on the pool at a threshold (None: nothing)."""
    if threshold is None:
        return 1.0, 0.0
    chosen = proba.max(axis=1) >= threshold
    if not chosen.any():
        return 1.0, 0.0
    return float((proba[chosen].argmax(axis=1) == y[chosen]).mean()), float(chosen.mean())


def _naive(proba: np.ndarray, y: np.ndarray, grid: np.ndarray) -> float | None:
    """The lowest grid threshold whose precision on ``proba`` reaches the target."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    best = None
    for threshold in grid:
        chosen = confidence >= threshold
        if chosen.any() and correct[chosen].mean() >= TARGET:
            best = float(threshold)
    return best


def run_case(case: Case, runs: int) -> list[dict[str, object]]:
    X, y = case.load()
    grid = threshold_grid(int(np.unique(y).size))
    rows = []
    for size in case.calibration_sizes:
        if case.n_train + size >= len(y) - 50:
            continue
        tally = {
            rule: {"fail": 0, "any": 0, "cov": [], "gap": []} for rule in ("certified", "naive")
        }
        for seed in range(runs):
            order = np.random.default_rng(seed).permutation(len(y))
            train, cal, pool = np.split(order, [case.n_train, case.n_train + size])
            model = case.model().fit(X[train], y[train])
            classes = list(model.classes_)
            index = np.array([classes.index(v) for v in y])
            p_cal, p_pool = model.predict_proba(X[cal]), model.predict_proba(X[pool])
            _, best = _precision_at(p_pool, index[pool], _naive(p_pool, index[pool], grid))
            thresholds = {
                "certified": calibrate_threshold(
                    p_cal, index[cal], target_precision=TARGET, risk=RISK
                ),
                "naive": _naive(p_cal, index[cal], grid),
            }
            for rule, threshold in thresholds.items():
                precision, coverage = _precision_at(p_pool, index[pool], threshold)
                tally[rule]["fail"] += precision < TARGET
                tally[rule]["any"] += coverage > 0
                tally[rule]["cov"].append(coverage)
                tally[rule]["gap"].append(best - coverage)
        for rule, t in tally.items():
            rows.append({
                "case": case.name, "size": size, "pool": len(y) - case.n_train - size,
                "rule": rule, "fail": t["fail"] / runs, "any": t["any"] / runs,
                "coverage": float(np.mean(t["cov"])), "gap": float(np.mean(t["gap"])),
            })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="seeded repetitions per row")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"target precision {TARGET}, risk {RISK}, {args.runs} runs per row\n")
    print(
        "| data set | calibration labels | pool | rule | runs below p* | runs labelling "
        "anything | mean coverage | mean gap to best in hindsight |"
    )
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for case in CASES:
        for row in run_case(case, args.runs):
            print(f"| {row['case']} | {row['size']:,} | {row['pool']:,} | {row['rule']} | "
                  f"{row['fail']:.1%} | {row['any']:.0%} | {row['coverage']:.1%} | "
                  f"{row['gap']:+.1%} |", flush=True)  # fmt: skip
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
