"""Noise and prior signals `auto` could see, measured per round of `auto` on benchmark sets.

For issue 17 (`auto` loses to random on German credit's macro-F1, benchmarks/RESULTS.md):
before building a guard on a signal, this measures the best that signal could be, using
the pool's true labels where `auto` would have to estimate them from its random arm's
picks (an unbiased but small sample). If even these exact values do not tell German credit
from the sets where margin wins, no estimate of them will. Per round of `auto` (through
:func:`labelloop.simulate`, logistic regression, each set's initial/batch/budget of
`auto_ablation.py`), over the classes:

- ``share ratio``: the lowest ratio of the share of the pool the model predicts as a class
  to that class's true share of the pool (what random-arm labels estimate);
- ``pool error``: the model's error rate on the pool (what the random arm's reward
  estimates);
- ``expected``: the model's own expected error on the pool, the mean of 1 − its top
  probability;
- ``gap`` and ``error / expected``: how much more often the model is wrong than it says.

It prints the mean over rounds and seeds, with the 25th and 75th percentiles of the
share ratio.

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/auto_signals.py --seeds 8 \
        --sets german_credit noisy_imbalanced breast_cancer_noisy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from auto_ablation import ALL_SETS, SETS, load  # noqa: E402


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _dense_rows(X: Any) -> np.ndarray:
    dense = X.toarray() if hasattr(X, "toarray") else X
    return np.ascontiguousarray(np.asarray(dense, dtype=np.float64))


def measure(name: str, seeds: int) -> np.ndarray:
    """One row per round of `auto`: share ratio, pool error, expected error, gap, ratio."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    import labelloop.selection._batch as batch
    from labelloop.simulation import simulate

    initial, size, budget, scoring = ALL_SETS[name]
    X, y = load(name)
    values, counts = np.unique(y, return_counts=True)
    true_share = {_plain(v): c / len(y) for v, c in zip(values, counts, strict=True)}
    label_of = {row.tobytes(): _plain(v) for row, v in zip(_dense_rows(X), y, strict=True)}
    rows: list[tuple[float, ...]] = []
    select_auto = batch.select_auto

    def observed(context: Any, k: int, state: dict, options: Any = None) -> Any:
        if context.estimator is not None and context.classes and not context.multilabel:
            proba = context.proba
            predicted = proba.argmax(axis=1)
            classes = [_plain(c) for c in context.classes]
            shares = np.array([(predicted == j).mean() for j in range(len(classes))])
            ratio = float(min(s / true_share[c] for s, c in zip(shares, classes, strict=True)))
            truth = np.array([label_of[row.tobytes()] for row in _dense_rows(context.X_pool)])
            wrong = float(np.mean(np.array(classes, dtype=object)[predicted] != truth))
            expected = float(np.mean(1 - proba.max(axis=1)))
            rows.append((ratio, wrong, expected, wrong - expected, wrong / max(expected, 1e-9)))
        return select_auto(context, k, state, options)

    batch.select_auto = observed
    try:
        with threadpool_limits(limits=1):
            simulate(
                LogisticRegression(max_iter=1000),
                X,
                y,
                strategy=["auto"],
                initial=initial,
                batch=size,
                budget=budget,
                seeds=seeds,
                scoring=scoring,
                random_state=0,
            )
    finally:
        batch.select_auto = select_auto
    return np.asarray(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--sets", nargs="+", choices=list(ALL_SETS), default=list(SETS))
    args = parser.parse_args(argv)
    print(
        "| set | rounds | share ratio (p25-p75) | pool error | expected | gap | error / expected |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.sets:
        rows = measure(name, args.seeds)
        if rows.size == 0:
            print(f"| {name} | 0 | - | - | - | - | - |", flush=True)
            continue
        mean = rows.mean(axis=0)
        low, high = np.percentile(rows[:, 0], [25, 75])
        print(
            f"| {name} | {len(rows)} | {mean[0]:.2f} ({low:.2f}-{high:.2f}) | {mean[1]:.3f} "
            f"| {mean[2]:.3f} | {mean[3]:.3f} | {mean[4]:.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
