"""Variants of the certified threshold tried against the current walks, on the same runs.

Each run draws the split of ``benchmarks/automation.py`` (same seeds, same models) and
every variant picks a threshold from the same calibration sample:

- current: `labelloop.automation.calibrate_threshold` (walks starting at ``s, 4s, 16s``
  selected items, each at ``delta / m``);
- fallback: the same starts and risks, but a walk that is still certifying when it
  reaches the next start hands its risk on (Wiens' fallback procedure: a rejected step
  passes its level to the next one; valid under any dependence);
- split 30/70 (margin): on a random 30% of the sample, the lowest threshold whose
  precision clears ``p* + 0.02``; one walk at full ``delta`` on the other 70% from there
  downward (valid: the start is chosen on labels the certificate does not read);
- split 30/70 (best bound): the same, starting where the 30% part's bound, scaled to the
  70% part's size, is highest;
- one walk from half: a single walk at full ``delta`` starting where half of the sample is
  selected (chosen from confidences only);
- finer grid: the current walks on a grid of 1,000 thresholds instead of 400;
- hindsight bound (not valid): the lowest threshold whose Clopper-Pearson bound at full
  ``delta`` reaches ``p*`` on the whole sample, chosen after seeing every bound. No valid
  rule built on those bounds can go lower, so its gap is a floor for them all.

Run: ``nice -n 10 .venv/bin/python benchmarks/automation_variants.py --runs 100``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from automation import CASES, RISK, TARGET

from labelloop.automation._bounds import _lower
from labelloop.automation._threshold import _counts, _starts, _walk, threshold_grid

ROWS = (("synthetic 3 classes (LR)", 1000), ("synthetic 5 classes (naive Bayes)", 1000),
        ("digits (LR)", 600))  # fmt: skip


def _down(k: np.ndarray, n: np.ndarray, start: int, risk: float) -> int | None:
    """One fixed-sequence walk from grid index ``start`` downward."""
    passed = _lower(k, n, risk) >= TARGET
    if not passed[start]:
        return None
    stops = np.flatnonzero(~passed[start:])
    return start + int(stops[0]) - 1 if stops.size else len(n) - 1


def _fallback(k: np.ndarray, n: np.ndarray, total: int) -> int | None:
    starts, each = _starts(total, TARGET, RISK)
    weight = np.zeros(len(n))
    for start in starts:
        hit = np.flatnonzero(n >= start - 1e-9)
        if hit.size:
            weight[hit[0]] += each
    bounds: dict[float, np.ndarray] = {}
    level, best = 0.0, None
    for i in range(len(n)):
        level = weight[i] + level  # level is 0 after a step that was not rejected
        if level <= 0:
            continue
        key = round(level, 12)
        if key not in bounds:
            bounds[key] = _lower(k, n, level)
        if bounds[key][i] >= TARGET:
            best = i
        else:
            level = 0.0
    return best


def _split(conf: np.ndarray, correct: np.ndarray, grid: np.ndarray, seed: int, how: str):
    order = np.random.default_rng(seed + 10_000).permutation(len(conf))
    first, second = order[: int(0.3 * len(conf))], order[int(0.3 * len(conf)) :]
    ka, na = _counts(conf[first], correct[first], grid)
    kb, nb = _counts(conf[second], correct[second], grid)
    if how == "margin":
        clears = np.flatnonzero((na >= 20) & (ka >= (TARGET + 0.02) * na))
        if not clears.size:
            return None
        start = int(clears[-1])
    else:
        scale = len(second) / len(first)
        start = int(np.argmax(_lower(ka * scale, na * scale, RISK)))
    return _down(kb, nb, start, RISK)


def _realised(
    confidence: np.ndarray, correct: np.ndarray, threshold: float | None
) -> tuple[float, float]:
    """Precision and coverage on the pool at a threshold (None labels nothing)."""
    chosen = confidence >= threshold if threshold is not None else np.zeros(0, bool)
    if not chosen.any():
        return 1.0, 0.0
    return float(correct[chosen].mean()), float(chosen.mean())


def _current(k: np.ndarray, n: np.ndarray, total: int) -> int | None:
    starts, each = _starts(total, TARGET, RISK)
    found = [i for i in (_walk(k, n, s, TARGET, each) for s in starts) if i is not None]
    return max(found) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="seeded repetitions per row")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"target precision {TARGET}, risk {RISK}, {args.runs} runs per row\n")
    print("| data set | calibration labels | variant | runs below p* | mean coverage | "
          "mean gap to best in hindsight |")  # fmt: skip
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    cases = {case.name: case for case in CASES}
    for name, size in ROWS:
        case = cases[name]
        X, y = case.load()
        n_classes = int(np.unique(y).size)
        grid = threshold_grid(n_classes)
        fine = 1.0 - np.geomspace(1e-6, 1.0 - 1.0 / n_classes, 1000)
        tally: dict[str, list] = {}
        for seed in range(args.runs):
            order = np.random.default_rng(seed).permutation(len(y))
            train, cal, pool = np.split(order, [case.n_train, case.n_train + size])
            model = case.model().fit(X[train], y[train])
            classes = list(model.classes_)
            index = np.array([classes.index(v) for v in y])
            p_cal, p_pool = model.predict_proba(X[cal]), model.predict_proba(X[pool])
            conf, correct = p_cal.max(axis=1), p_cal.argmax(axis=1) == index[cal]
            pool_conf = p_pool.max(axis=1)
            pool_correct = p_pool.argmax(axis=1) == index[pool]

            kp, npool = _counts(pool_conf, pool_correct, grid)
            safe = np.flatnonzero((npool > 0) & (kp >= TARGET * npool))
            safest = float(grid[safe[-1]]) if safe.size else None
            best = _realised(pool_conf, pool_correct, safest)[1]
            k, n = _counts(conf, correct, grid)
            kf, nf = _counts(conf, correct, fine)
            hindsight = np.flatnonzero((n > 0) & (_lower(k, n, RISK) >= TARGET))
            half = int(np.argmax(n >= 0.5 * size))
            picks = {
                "current": _current(k, n, size),
                "fallback": _fallback(k, n, size),
                "split 30/70 (margin)": _split(conf, correct, grid, seed, "margin"),
                "split 30/70 (best bound)": _split(conf, correct, grid, seed, "bound"),
                "one walk from half": _down(k, n, half, RISK),
                "hindsight bound (not valid)": int(hindsight[-1]) if hindsight.size else None,
            }
            thresholds = {key: None if i is None else float(grid[i]) for key, i in picks.items()}
            on_fine = _current(kf, nf, size)
            thresholds["finer grid (1,000)"] = None if on_fine is None else float(fine[on_fine])
            for key, threshold in thresholds.items():
                precision, coverage = _realised(pool_conf, pool_correct, threshold)
                row = tally.setdefault(key, [0, [], []])
                row[0] += precision < TARGET
                row[1].append(coverage)
                row[2].append(best - coverage)
        for key, (fails, coverage, gap) in tally.items():
            print(f"| {name} | {size:,} | {key} | {fails / args.runs:.1%} | "
                  f"{np.mean(coverage):.1%} | {np.mean(gap):+.1%} |", flush=True)  # fmt: skip
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
