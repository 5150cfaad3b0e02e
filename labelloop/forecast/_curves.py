"""Learning-curve fits: a few saturating families, weighted, averaged, bootstrapped.

Rules
-----
1. Every family rises monotonically to a ceiling ``a`` (scores are bounded, so a family
   without a ceiling, such as ``a + b log n``, would promise any score at some count):
   ``pow3`` ``a - b n^-c``, ``exp3`` ``a - b exp(-c n / n_max)``, ``logpower3``
   ``a / (1 + (n / m)^-c)``; ``b, c, m > 0`` and ``0 <= a <= upper``.
2. Point ``i`` weighs ``n_i / n_max`` in the least-squares fit: later points say more
   about where the curve goes than the cold start does.
3. The families are averaged with Akaike weights from their weighted residuals; a
   family whose fit fails is left out, and a curve needs at least one.
4. The interval is a residual bootstrap: the averaged fit plus resampled residuals
   (scaled by ``sqrt(m / (m - 3))`` for the parameters fitted) is refitted
   ``n_boot`` times. A score's interval adds a resampled residual to each refitted
   curve, so it covers an observed score, not only the mean curve; a label count's
   interval inverts each refitted curve.
5. An interval always contains its point estimate (percentile bootstraps of skewed
   fits may not, and a point outside its own interval is read as a bug).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FAMILIES", "LearningCurve"]

FAMILIES: tuple[str, ...] = ("pow3", "exp3", "logpower3")

# Beyond this many labels a target counts as out of reach.
MAX_LABELS = 10_000_000


def _pow3(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(n, -c)


def _exp3(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.exp(-c * n)


def _logpower3(n: np.ndarray, a: float, log_m: float, c: float) -> np.ndarray:
    return a / (1.0 + np.exp(-c * (np.log(n) - log_m)))


_FUNCTIONS = {"pow3": _pow3, "exp3": _exp3, "logpower3": _logpower3}


def _pow3_jac(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    power = np.power(n, -c)
    return np.column_stack([np.ones_like(n), -power, b * power * np.log(n)])


def _exp3_jac(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    decay = np.exp(-c * n)
    return np.column_stack([np.ones_like(n), -decay, b * n * decay])


def _logpower3_jac(n: np.ndarray, a: float, log_m: float, c: float) -> np.ndarray:
    shift = np.log(n) - log_m
    s = 1.0 / (1.0 + np.exp(-c * shift))
    slope = a * s * (1.0 - s)
    return np.column_stack([s, -c * slope, shift * slope])


# Analytic Jacobians halve the cost of a fit against finite differences.
_JACOBIANS = {"pow3": _pow3_jac, "exp3": _exp3_jac, "logpower3": _logpower3_jac}


@dataclass(frozen=True)
class _Fit:
    """One averaged fit: each family's parameters and Akaike weight; ``scale`` for exp3."""

    params: dict[str, tuple[float, float, float]]
    weights: dict[str, float]
    scale: float

    def predict(self, n: np.ndarray) -> np.ndarray:
        total = np.zeros_like(n, dtype=float)
        for family, weight in self.weights.items():
            x = n / self.scale if family == "exp3" else n
            total += weight * _FUNCTIONS[family](x, *self.params[family])
        return total

    @property
    def ceiling(self) -> float:
        return float(sum(w * self.params[f][0] for f, w in self.weights.items()))

    def labels_for(self, target: float, start: float) -> float:
        """The label count where the mean curve reaches ``target`` (inf: never)."""
        if self.predict(np.array([start]))[0] >= target:
            return start
        if self.ceiling <= target or self.predict(np.array([float(MAX_LABELS)]))[0] < target:
            return float("inf")
        low, high = np.log(start), np.log(float(MAX_LABELS))
        for _ in range(60):  # bisection on log n: the curve is monotone (rule 1)
            middle = 0.5 * (low + high)
            if self.predict(np.array([np.exp(middle)]))[0] >= target:
                high = middle
            else:
                low = middle
        return float(np.exp(high))


def _fit_family(
    family: str,
    n: np.ndarray,
    y: np.ndarray,
    sigma: np.ndarray,
    scale: float,
    upper: float,
    warm: tuple[float, float, float] | None = None,
) -> tuple[tuple[float, float, float], float] | None:
    from scipy.optimize import curve_fit

    top = float(y.max())
    spread = max(float(y.max() - y.min()), 1e-3)
    if family == "pow3":
        starts = [(min(top + spread, upper), spread * n.min() ** c, c) for c in (0.3, 0.7)]
        bounds = ([0.0, 0.0, 1e-3], [upper, np.inf, 3.0])
        x = n
    elif family == "exp3":
        starts = [(min(top + 0.2 * spread, upper), 2 * spread, c) for c in (1.0, 4.0)]
        bounds = ([0.0, 0.0, 1e-3], [upper, np.inf, 100.0])
        x = n / scale
    else:
        mid = float(np.log(np.median(n)))
        starts = [(min(top + spread, upper), mid - k, 1.0) for k in (0.0, 2.0)]
        bounds = ([0.0, -50.0, 1e-3], [upper, 50.0, 10.0])
        x = n
    if warm is not None:  # a bootstrap refit starts where the fit to the data ended
        starts = [warm]
    best: tuple[tuple[float, float, float], float] | None = None
    for start in starts:
        start = tuple(float(np.clip(v, lo, hi)) for v, lo, hi in zip(start, *bounds, strict=True))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = curve_fit(
                    _FUNCTIONS[family],
                    x,
                    y,
                    p0=start,
                    sigma=sigma,
                    bounds=bounds,
                    jac=_JACOBIANS[family],
                    max_nfev=200,
                )
        except (RuntimeError, ValueError):
            continue
        residual = (y - _FUNCTIONS[family](x, *params)) / sigma
        sse = float(np.sum(residual**2))
        if np.isfinite(sse) and (best is None or sse < best[1]):
            best = (tuple(float(p) for p in params), sse)
    return best


def _fit_average(
    n: np.ndarray,
    y: np.ndarray,
    families: tuple[str, ...],
    upper: float,
    warm: _Fit | None = None,
) -> _Fit | None:
    """Rules 2 and 3: the weighted fit of each family, averaged with Akaike weights."""
    scale = float(n.max())
    sigma = 1.0 / np.sqrt(n / scale)
    params, sses = {}, {}
    for family in families:
        start = warm.params.get(family) if warm is not None else None
        if warm is not None and start is None:
            continue
        found = _fit_family(family, n, y, sigma, scale, upper, start)
        if found is not None:
            params[family], sses[family] = found
    if not params:
        return None
    m = len(n)
    # Every family has three parameters, so Akaike weights reduce to the residuals.
    aic = {f: m * np.log(max(sse, 1e-12) / m) for f, sse in sses.items()}
    best = min(aic.values())
    raw = {f: float(np.exp(-0.5 * (value - best))) for f, value in aic.items()}
    total = sum(raw.values())
    return _Fit(params=params, weights={f: w / total for f, w in raw.items()}, scale=scale)


@dataclass(frozen=True)
class LearningCurve:
    """A fitted learning curve with its bootstrap; build it with `fit_learning_curve`.

    Attributes
    ----------
    n_labels, scores : ndarray
        The points fitted, by label count.
    weights : dict
        Each family's Akaike weight in the average.
    ceiling : float
        The averaged curve's limit: the score it approaches with unlimited labels.
    level : float
        The intervals' coverage, e.g. 0.8.
    """

    n_labels: np.ndarray
    scores: np.ndarray
    level: float
    _fit: _Fit = field(repr=False)
    _boots: tuple[_Fit, ...] = field(repr=False)
    _residuals: np.ndarray = field(repr=False)

    @property
    def weights(self) -> dict[str, float]:
        return dict(self._fit.weights)

    @property
    def ceiling(self) -> float:
        return self._fit.ceiling

    def predict(self, n_labels: float) -> float:
        """The mean curve's score at ``n_labels``."""
        return float(self._fit.predict(np.array([float(n_labels)]))[0])

    def predict_interval(self, n_labels: float) -> tuple[float, float, float]:
        """``(score, low, high)`` at ``n_labels``: rule 4's interval of an observed score."""
        point = self.predict(n_labels)
        if not self._boots:
            return point, point, point
        x = np.array([float(n_labels)])
        draws = np.array([fit.predict(x)[0] for fit in self._boots])
        draws = draws + self._residuals[: len(draws)]
        low, high = _percentiles(draws, self.level)
        return point, min(low, point), max(high, point)

    def labels_for(
        self, target: float, *, start: float | None = None
    ) -> tuple[float, float, float]:
        """``(labels, low, high)`` where the mean curve reaches ``target``; inf for never.

        Counts start at ``start`` (default: the last point fitted): a target already
        reached there gives ``start``.
        """
        start = float(self.n_labels.max()) if start is None else max(float(start), 1.0)
        point = self._fit.labels_for(target, start)
        if not self._boots:
            return point, point, point
        draws = np.array([fit.labels_for(target, start) for fit in self._boots])
        low, high = _percentiles(draws, self.level)
        return point, min(low, point), max(high, point)


def _percentiles(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = 50.0 * (1.0 - level)
    # method="lower"/"higher" keep inf draws from turning into nan by interpolation.
    low = float(np.percentile(draws, tail, method="lower"))
    high = float(np.percentile(draws, 100.0 - tail, method="higher"))
    return low, high


def _fit_curve(
    n: np.ndarray,
    y: np.ndarray,
    *,
    families: tuple[str, ...],
    upper: float,
    level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> LearningCurve | None:
    """Rules 2-4 on checked points (validation is assumed done); None when no family fits."""
    fit = _fit_average(n, y, families, upper)
    if fit is None:
        return None
    fitted = fit.predict(n)
    m = len(n)
    residuals = (y - fitted) * np.sqrt(m / max(m - 3, 1))
    boots: list[_Fit] = []
    for _ in range(n_boot):
        again = fitted + rng.choice(residuals, size=m, replace=True)
        refit = _fit_average(n, np.clip(again, 0.0, upper), families, upper, fit)
        if refit is not None:
            boots.append(refit)
    noise = rng.choice(residuals, size=len(boots), replace=True)
    return LearningCurve(
        n_labels=n, scores=y, level=level, _fit=fit, _boots=tuple(boots), _residuals=noise
    )
