"""Learning-curve fits: a few saturating families, weighted, averaged, bootstrapped.

Rules
-----
1. Every family rises monotonically to a ceiling ``a`` (scores are bounded, so a family
   without a ceiling, such as ``a + b log n``, would promise any score at some count):
   ``pow3`` ``a - b n^-c``, ``exp3`` ``a - b exp(-c n / n_max)``, ``hyp3``
   ``a - b / (1 + n / (k n_max))`` (Michaelis-Menten), and ``flat`` ``a`` (the curve
   has levelled off: more labels add nothing); ``b >= 0``, ``c, k > 0`` on a grid, and
   ``0 <= a <= upper``. For each shape on the grid the fit is linear in ``a`` and
   ``b``: closed-form weighted least squares, every bootstrap at once.
2. Point ``i`` weighs ``(n_i / n_max)^2`` in the least-squares fit: later points say
   more about where the curve goes than the cold start does.
3. The families are averaged, each weighing half an equal share and half its share of
   the inverse prequential error: each family is fitted on the points up to half the
   labels now and scored (rule 2's weights) on the later points, so a family weighs by
   how well it extrapolated this curve, not by how well it fits the points it saw
   (Akaike weights favour that one, and it is not the one that extrapolates best).
   A noisy single-seed curve that zigzags makes the rising families chase the last
   steps; the flat family is then the one that extrapolated best and pulls the average
   back. With fewer than 3 points in the first half the shares are Akaike weights.
4. The interval is a residual bootstrap: the averaged fit plus resampled residuals
   (scaled by ``sqrt(m / (m - 3))`` for the parameters fitted) is refitted
   ``n_boot`` times, each draw by one family picked at random with the family's weight,
   so the families' disagreement about the future widens it. A score's interval adds
   to each refitted curve a resampled residual and a normal draw with the curve's own
   extrapolation error: the root mean square error, at the points from 1.5 to 2 times
   its last count, of the averaged fit on the first half of the counts. Residuals
   measure the scatter around the curve; this measures how far a doubling can stray
   from it. A label count's interval inverts each refitted curve.
5. Past the last point a score's interval leans up, never down, by the curve's own
   shortfall: the mean of those same errors of the early fit when it fell short of the
   later scores (0 when it did not). Each draw adds ``shortfall * |z|``, ``z`` standard
   normal, in full from twice the last count on, by ``log2(n / n_last)`` before it, not
   at all up to the last point. Curves often keep rising after a plateau that every
   family reads as levelling off, and then the truth lies above the interval; a curve
   whose early fit overshot gets no lift. The point estimate stays the fit: leaning it
   up by any share of the shortfall raised the backtest's error (RESULTS.md, issue 17).
6. An interval always contains its point estimate (percentile bootstraps of skewed
   fits may not, and a point outside its own interval is read as a bug).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FAMILIES", "FORECAST_FAMILIES", "RISING_FAMILIES", "LearningCurve"]

FAMILIES: tuple[str, ...] = ("pow3", "exp3", "hyp3", "flat")
# The families that keep rising past the last point: all of them but ``flat``.
RISING_FAMILIES: tuple[str, ...] = ("pow3", "exp3", "hyp3")
# The families a project's own curve is forecast with: ``exp3`` levels off quickest and
# read mid-curve plateaus as ceilings (RESULTS.md, issue 17).
FORECAST_FAMILIES: tuple[str, ...] = ("pow3", "hyp3", "flat")

# Beyond this many labels a target counts as out of reach.
MAX_LABELS = 10_000_000

# Each family's shape parameter is searched on a grid (relative to n_max for exp3 and
# hyp3); for a fixed shape the curve is linear in (a, b), solved in closed form.
_GRID_SIZE = 400
# Half of each family's weight is equal shares, half its prequential share (rule 3).
_BLEND = 0.5
# Point i weighs (n_i / n_max) ** 2 (rule 2); 0, 1 and 3 did worse on the backtest.
_WEIGHT_POWER = 2.0
_GRIDS = {
    "pow3": np.geomspace(0.01, 3.0, _GRID_SIZE),
    "exp3": np.geomspace(0.05, 60.0, _GRID_SIZE),
    "hyp3": np.geomspace(1e-4, 1e2, _GRID_SIZE),
    "flat": np.ones(1),  # no shape: the decay is 0
}
# Rule 3: families are fitted on the counts up to this share of the labels now and
# scored on the rest; rule 4 reads the extrapolation error from 1.5 to 2 times that.
_PREQUENTIAL_SPLIT = 0.5
_INVERSION_GRID = np.geomspace(1.0, float(MAX_LABELS), 4000)


def _decay(family: str, n: np.ndarray, shape: np.ndarray, scale: float) -> np.ndarray:
    """``g`` of ``a - b g(n)``, decreasing to 0, for every shape: shape ``shape + n.shape``."""
    x = np.asarray(n, dtype=float)[None, ...]
    shape = np.asarray(shape, dtype=float).reshape(-1, *([1] * np.ndim(n)))
    if family == "flat":
        return np.zeros((shape.shape[0], *x.shape[1:]))
    if family == "pow3":
        return np.power(x, -shape)
    if family == "exp3":
        return np.exp(-shape * x / scale)
    return 1.0 / (1.0 + x / (shape * scale))


@dataclass(frozen=True)
class _Fits:
    """``k`` averaged curves: per family ``a``, ``b``, shape and weight, each ``(k,)``."""

    params: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    weights: dict[str, np.ndarray]
    scale: float

    def predict(self, n: np.ndarray) -> np.ndarray:
        """Scores of every curve at counts ``n``: shape ``(k, len(n))``."""
        n = np.atleast_1d(np.asarray(n, dtype=float))
        total = 0.0
        for family, (a, b, shape) in self.params.items():
            curve = a[:, None] - b[:, None] * _decay(family, n, shape, self.scale)
            total = total + self.weights[family][:, None] * curve
        return np.asarray(total)

    @property
    def ceilings(self) -> np.ndarray:
        return sum(self.weights[f] * self.params[f][0] for f in self.params)

    def labels_for(self, target: float, start: float) -> np.ndarray:
        """Per curve, the count where it reaches ``target`` from ``start`` on (inf: never)."""
        grid = np.concatenate([[start], _INVERSION_GRID[start < _INVERSION_GRID]])
        scores = self.predict(grid)
        reached = scores >= target
        first = np.where(reached.any(axis=1), reached.argmax(axis=1), -1)
        found = np.full(len(first), np.inf)
        for row in np.flatnonzero(first >= 0):
            i = first[row]
            if i == 0:
                found[row] = start
                continue
            low, high = scores[row, i - 1], scores[row, i]
            # Interpolated in log n, where the curves are smooth.
            frac = (target - low) / max(high - low, 1e-12)
            found[row] = float(np.exp(np.log(grid[i - 1]) + frac * np.log(grid[i] / grid[i - 1])))
        return found


def _fit_family(
    family: str, n: np.ndarray, Y: np.ndarray, w: np.ndarray, scale: float, upper: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rule 1-2 for one family and every row of ``Y``: ``(a, b, shape, sse)``, each ``(k,)``.

    For each shape of the grid, weighted least squares in closed form under
    ``b >= 0`` and ``0 <= a <= upper``; the shape with the least weighted residual wins.
    """
    G = _decay(family, n, _GRIDS[family], scale)  # (J, m)
    W = w.sum()
    g_mean = G @ w / W  # (J,)
    y_mean = Y @ w / W  # (k,)
    Gc = G - g_mean[:, None]
    s_gg = (Gc**2) @ w  # (J,)
    s_gy = (Y * w) @ Gc.T  # (k, J): Gc is centred under w, so y's mean drops out
    b = np.maximum(-s_gy / np.maximum(s_gg, 1e-300), 0.0)
    a = y_mean[:, None] + b * g_mean[None, :]
    over = a > upper
    if over.any():  # the ceiling held at upper: b alone by least squares
        g_w = G * w  # (J, m)
        num = (upper - Y) @ g_w.T  # (k, J)
        den = (G * g_w).sum(axis=1)[None, :]
        b = np.where(over, np.maximum(num / np.maximum(den, 1e-300), 0.0), b)
        a = np.where(over, upper, a)
    a = np.maximum(a, 0.0)
    residual = Y[:, None, :] - (a[..., None] - b[..., None] * G[None, :, :])  # (k, J, m)
    sse = (residual**2 * w).sum(axis=2)
    best = sse.argmin(axis=1)
    rows = np.arange(len(Y))
    return a[rows, best], b[rows, best], _GRIDS[family][best], sse[rows, best]


def _prequential_errors(
    n: np.ndarray, Y: np.ndarray, families: tuple[str, ...], upper: float
) -> dict[str, np.ndarray] | None:
    """Per family and row, the weighted squared error of a fit on the early points
    extrapolated to the later ones; None when too few points lie on either side."""
    early = n <= _PREQUENTIAL_SPLIT * n.max()
    if early.sum() < 3 or (~early).sum() < 1:
        return None
    ne, scale = n[early], float(n[early].max())
    we = (ne / scale) ** _WEIGHT_POWER
    wl = (n[~early] / n.max()) ** _WEIGHT_POWER
    errors = {}
    for family in families:
        a, b, shape, _ = _fit_family(family, ne, Y[:, early], we, scale, upper)
        fits = _Fits(params={family: (a, b, shape)}, weights={family: np.ones(len(a))}, scale=scale)
        predicted = fits.predict(n[~early])
        errors[family] = ((predicted - Y[:, ~early]) ** 2 * wl).sum(axis=1) / wl.sum()
    return errors


def _early_fit_errors(
    n: np.ndarray, y: np.ndarray, families: tuple[str, ...], upper: float
) -> np.ndarray:
    """Observed minus predicted at the points from 1.5 to 2 times the last count of the
    first half, for the averaged fit on that half (empty: too few points to fit it)."""
    half = n <= _PREQUENTIAL_SPLIT * n.max()
    late = n >= 1.5 * _PREQUENTIAL_SPLIT * n.max()
    if half.sum() < 3:
        return np.zeros(0)
    fit = _fit_average(n[half], y[None, half], families, upper)
    return y[late] - fit.predict(n[late])[0]


def _spread_and_shortfall(
    n: np.ndarray, y: np.ndarray, families: tuple[str, ...], upper: float
) -> tuple[float, float]:
    """Rules 4 and 5 from `_early_fit_errors`: their root mean square, and their mean
    when the early fit fell short (0 otherwise); both 0 with too few points."""
    errors = _early_fit_errors(n, y, families, upper)
    if not errors.size:
        return 0.0, 0.0
    return float(np.sqrt(np.mean(errors**2))), max(float(np.mean(errors)), 0.0)


def _fit_average(n: np.ndarray, Y: np.ndarray, families: tuple[str, ...], upper: float) -> _Fits:
    """Rules 2 and 3 for every row of ``Y``: each family's fit, and their average."""
    scale = float(n.max())
    w = (n / scale) ** _WEIGHT_POWER
    m = len(n)
    params, aic = {}, {}
    for family in families:
        a, b, shape, sse = _fit_family(family, n, Y, w, scale, upper)
        params[family] = (a, b, shape)
        aic[family] = m * np.log(np.maximum(sse, 1e-12) / m)
    best = np.min(np.stack(list(aic.values())), axis=0)
    raw = {f: np.exp(-0.5 * (value - best)) for f, value in aic.items()}
    if len(families) > 1:
        errors = _prequential_errors(n, Y, families, upper)
        if errors is not None:
            raw = {f: 1.0 / np.maximum(errors[f], 1e-8) for f in families}
    total = sum(raw.values())
    weights = {f: _BLEND / len(families) + (1 - _BLEND) * raw[f] / total for f in families}
    return _Fits(params=params, weights=weights, scale=scale)


@dataclass(frozen=True)
class LearningCurve:
    """A fitted learning curve with its bootstrap; build it with `fit_learning_curve`.

    Attributes
    ----------
    n_labels, scores : ndarray
        The points fitted, by label count.
    weights : dict
        Each family's weight in the average.
    ceiling : float
        The averaged curve's limit: the score it approaches with unlimited labels.
    level : float
        The intervals' coverage, e.g. 0.8.
    upper : float
        The highest score possible.
    """

    n_labels: np.ndarray
    scores: np.ndarray
    level: float
    upper: float
    _fit: _Fits = field(repr=False)
    _boots: _Fits | None = field(repr=False)
    _noise: np.ndarray = field(repr=False)
    _lift: np.ndarray = field(repr=False)

    @property
    def weights(self) -> dict[str, float]:
        return {family: float(w[0]) for family, w in self._fit.weights.items()}

    @property
    def ceiling(self) -> float:
        return float(self._fit.ceilings[0])

    def predict(self, n_labels: float) -> float:
        """The mean curve's score at ``n_labels``."""
        return float(self._fit.predict(np.array([float(n_labels)]))[0, 0])

    def predict_interval(self, n_labels: float) -> tuple[float, float, float]:
        """``(score, low, high)`` at ``n_labels``: rules 4-5's interval of an observed score."""
        point = self.predict(n_labels)
        if self._boots is None:
            return point, point, point
        draws = self._boots.predict(np.array([float(n_labels)]))[:, 0] + self._noise
        draws = draws + self._lift * self._ahead(n_labels)
        low, high = _percentiles(np.clip(draws, 0.0, self.upper), self.level)
        return point, min(low, point), max(high, point)

    def _ahead(self, n_labels: float) -> float:
        """Rule 5's share at ``n_labels``: 0 up to the last point, 1 from twice it on."""
        return float(np.clip(np.log2(float(n_labels) / self.n_labels.max()), 0.0, 1.0))

    def labels_for(
        self, target: float, *, start: float | None = None
    ) -> tuple[float, float, float]:
        """``(labels, low, high)`` where the mean curve reaches ``target``; inf for never.

        Counts start at ``start`` (default: the last point fitted): a target already
        reached there gives ``start``.
        """
        start = float(self.n_labels.max()) if start is None else max(float(start), 1.0)
        point = float(self._fit.labels_for(target, start)[0])
        if self._boots is None:
            return point, point, point
        low, high = _percentiles(self._boots.labels_for(target, start), self.level)
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
) -> LearningCurve:
    """Rules 2-4 on checked points (validation is assumed done)."""
    fit = _fit_average(n, y[None, :], families, upper)
    fitted = fit.predict(n)[0]
    m = len(n)
    residuals = (y - fitted) * np.sqrt(m / max(m - 3, 1))
    boots, noise, lift = None, np.zeros(0), np.zeros(0)
    if n_boot:
        again = fitted[None, :] + rng.choice(residuals, size=(n_boot, m), replace=True)
        boots = _fit_average(n, np.clip(again, 0.0, upper), families, upper)
        # Each draw follows one family, picked by its weight (rule 4).
        share = np.array([fit.weights[f][0] for f in families])
        pick = rng.choice(len(families), size=n_boot, p=share / share.sum())
        boots = _Fits(
            params=boots.params,
            weights={f: (pick == i).astype(float) for i, f in enumerate(families)},
            scale=boots.scale,
        )
        noise = rng.choice(residuals, size=n_boot, replace=True)
        spread, shortfall = _spread_and_shortfall(n, y, families, upper)
        noise = noise + rng.normal(0.0, spread, size=n_boot)
        lift = shortfall * np.abs(rng.normal(0.0, 1.0, size=n_boot))
    return LearningCurve(
        n_labels=n,
        scores=y,
        level=level,
        upper=upper,
        _fit=fit,
        _boots=boots,
        _noise=noise,
        _lift=lift,
    )
