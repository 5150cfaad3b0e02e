"""The learning curves of a simulation and the numbers read from them.

Rules kept here:

1. The curves are a tidy table, one row per strategy, seed and round, with the columns
   of ``CURVE_COLUMNS``; everything else is derived from them and the full-pool scores.
2. The area under a learning curve is normalised by the width of its labels range, so it
   reads as the mean test score over the labelling budget.
3. The labels needed to reach a target (a fraction of the full-pool score) are the
   median over seeds; when that median is not reached within the budget it is None,
   never a guess.
4. pandas and matplotlib are imported only by the methods that need them.
"""

from __future__ import annotations

import csv
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["CURVE_COLUMNS", "SimulationResult"]

CURVE_COLUMNS = ("strategy", "seed", "n_labels", "score")


@dataclass(frozen=True)
class SimulationResult:
    """Learning curves of one or more strategies over several seeds.

    Attributes
    ----------
    curves : list of dict
        A tidy table, one row per strategy, seed and round, with the columns
        ``strategy``, ``seed``, ``n_labels`` (labels used) and ``score`` (test score).
    full_scores : dict
        Seed -> test score of the model trained on the whole labelled pool.
    strategies : tuple of str
        The strategies compared, in the order asked.
    seeds : tuple of int
        The seeds run.
    scoring : str
        The scikit-learn scorer name used.
    seconds : dict
        Strategy -> wall-clock seconds spent selecting and retraining, over all seeds.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from labelloop.simulation import simulate
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), LogisticRegression())
    >>> result = simulate(model, X, y, strategy=["margin", "random"], initial=10,
    ...                   batch=10, budget=50, seeds=2, random_state=0)
    >>> sorted(result.aulc)
    ['margin', 'random']
    >>> result.curves[0]["n_labels"], len(result.curves)
    (10, 20)
    """

    curves: list[dict[str, Any]]
    full_scores: dict[int, float]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    scoring: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def full_score(self) -> float:
        """Mean over seeds of the score of the model trained on the whole pool."""
        return float(np.mean(list(self.full_scores.values())))

    def curve(self, strategy: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels used and test score of one strategy on one seed, in round order."""
        rows = [r for r in self.curves if r["strategy"] == strategy and r["seed"] == seed]
        if not rows:
            raise ValidationError(
                f"no curve for strategy {strategy!r} and seed {seed}", field="strategy"
            )
        return (
            np.array([r["n_labels"] for r in rows], dtype=float),
            np.array([r["score"] for r in rows], dtype=float),
        )

    @property
    def aulc(self) -> dict[str, float]:
        """Strategy -> mean over seeds of the normalised area under the learning curve.

        The area is taken over the labels range of the run and divided by its width, so
        it reads as the mean test score over the labelling budget (same scale as the score).
        """
        out = {}
        for strategy in self.strategies:
            areas = []
            for seed in self.seeds:
                n_labels, score = self.curve(strategy, seed)
                areas.append(_normalised_area(n_labels, score))
            out[strategy] = float(np.mean(areas))
        return out

    def labels_to(self, fraction: float) -> dict[str, float | None]:
        """Strategy -> labels needed to reach ``fraction`` of the full-pool score.

        Per seed: the first label count whose score reaches ``fraction`` times that
        seed's full-pool score. Over seeds: the median, counting a seed that never
        reaches the target as infinite; None when the median is not reached within the
        budget.

        Parameters
        ----------
        fraction : float
            Target as a fraction of the full-pool score, in (0, 1.5].
        """
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
            raise ValidationError("fraction must be a number such as 0.95", field="fraction")
        if not 0 < fraction <= 1.5:
            raise ValidationError(f"fraction must be in (0, 1.5], got {fraction}", field="fraction")
        out: dict[str, float | None] = {}
        for strategy in self.strategies:
            needed = []
            for seed in self.seeds:
                n_labels, score = self.curve(strategy, seed)
                reached = np.flatnonzero(score >= fraction * self.full_scores[seed])
                needed.append(float(n_labels[reached[0]]) if reached.size else np.inf)
            median = float(np.median(needed))
            out[strategy] = median if np.isfinite(median) else None
        return out

    def summary(self, baseline: str = "random") -> dict[str, dict[str, float | None]]:
        """Strategy -> AULC, labels to 95% and 99% of the full-pool score, and ratios.

        ``aulc_ratio`` and ``labels_to_95_ratio`` compare with ``baseline`` when it was
        run (None otherwise, or when a target was not reached).
        """
        aulc = self.aulc
        to_95 = self.labels_to(0.95)
        to_99 = self.labels_to(0.99)
        out: dict[str, dict[str, float | None]] = {}
        for strategy in self.strategies:
            base_95 = to_95.get(baseline)
            mine_95 = to_95[strategy]
            out[strategy] = {
                "aulc": aulc[strategy],
                "labels_to_95": mine_95,
                "labels_to_99": to_99[strategy],
                "aulc_ratio": aulc[strategy] / aulc[baseline] if baseline in aulc else None,
                "labels_to_95_ratio": (
                    mine_95 / base_95 if mine_95 is not None and base_95 else None
                ),
                "seconds": self.seconds.get(strategy),
            }
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """The curves as a list of plain dicts (a copy)."""
        return [dict(row) for row in self.curves]

    def to_frame(self) -> Any:
        """The curves as a pandas DataFrame (pandas is imported only here)."""
        try:
            import pandas as pd
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "SimulationResult.to_frame needs pandas: pip install pandas "
                "(to_records() and to_csv() need nothing more)"
            ) from None

        return pd.DataFrame(self.curves, columns=list(CURVE_COLUMNS))

    def to_csv(self, path: str | Path) -> Path:
        """Write the curves as CSV with a header row; returns the path."""
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(CURVE_COLUMNS))
            writer.writeheader()
            writer.writerows(self.curves)
        return path

    def plot(self, path: str | Path | None = None, *, title: str | None = None) -> Any:
        """Draw the mean curves with a random-sampling baseline; save to ``path`` if given.

        Returns the matplotlib Figure (Agg backend; matplotlib is imported only here).
        """
        from labelloop.report import plot_learning_curves

        return plot_learning_curves(
            self.curves,
            path,
            full_score=self.full_score,
            baseline="random",
            scoring=self.scoring,
            title=title,
        )


def _normalised_area(n_labels: np.ndarray, score: np.ndarray) -> float:
    if n_labels.size == 1 or n_labels[-1] == n_labels[0]:
        return float(score[-1])
    return float(np.trapezoid(score, n_labels) / (n_labels[-1] - n_labels[0]))
