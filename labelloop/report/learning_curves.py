"""Learning-curve plots: test score against labels used, one line per strategy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["plot_learning_curves"]

_COLUMNS = ("strategy", "seed", "n_labels", "score")


def plot_learning_curves(
    curves: Any,
    path: str | Path | None = None,
    *,
    full_score: float | None = None,
    baseline: str = "random",
    scoring: str = "accuracy",
    title: str | None = None,
) -> Any:
    """Draw mean learning curves per strategy, with a band of one standard deviation.

    Parameters
    ----------
    curves : DataFrame, mapping of column -> sequence, or sequence of records
        A tidy table with the columns ``strategy``, ``seed``, ``n_labels`` and ``score``.
    path : str or Path, optional
        Where to save the figure (PNG, SVG or PDF by suffix). Nothing is saved without it.
    full_score : float, optional
        The score of the model trained on the whole pool, drawn as a dotted line with
        its 95% level.
    baseline : str, default="random"
        The strategy drawn as the dashed grey baseline, when present.
    scoring : str, default="accuracy"
        The score's name, for the y axis.
    title : str, optional
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (drawn with the non-interactive Agg backend).

    Examples
    --------
    >>> rows = [{"strategy": s, "seed": 0, "n_labels": n, "score": n / 100}
    ...         for s in ("margin", "random") for n in (10, 20, 30)]
    >>> fig = plot_learning_curves(rows, full_score=0.35)
    >>> [line.get_label() for line in fig.axes[0].lines][:2]
    ['margin', 'random']
    """
    table = _as_columns(curves)
    if path is not None:
        path = Path(path)
        if not path.parent.exists():
            raise ValidationError(f"{path}: folder {path.parent} does not exist", field="path")

    # A bare Figure renders with Agg and leaves pyplot's global state alone.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    strategies = list(dict.fromkeys(table["strategy"].tolist()))
    others = [s for s in strategies if s != baseline]
    ordered = others + ([baseline] if baseline in strategies else [])
    for strategy in ordered:
        n_labels, mean, std = _mean_curve(table, strategy)
        style = {"color": "0.45", "linestyle": "--"} if strategy == baseline else {}
        (line,) = ax.plot(n_labels, mean, label=strategy, linewidth=1.8, **style)
        ax.fill_between(n_labels, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    if full_score is not None:
        ax.axhline(full_score, color="black", linestyle=":", linewidth=1, label="full pool")
        ax.axhline(0.95 * full_score, color="0.6", linestyle=":", linewidth=1, label="95% of full")
    ax.set_xlabel("labels used")
    ax.set_ylabel(scoring)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    if title:
        ax.set_title(title)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _as_columns(curves: Any) -> dict[str, np.ndarray]:
    """Turn a DataFrame, a column mapping or a list of records into named numpy columns."""
    if hasattr(curves, "to_dict") and hasattr(curves, "columns"):
        columns = {str(c): np.asarray(curves[c]) for c in curves.columns}
    elif isinstance(curves, Mapping):
        columns = {str(k): np.asarray(v) for k, v in curves.items()}
    elif isinstance(curves, Sequence) and all(isinstance(r, Mapping) for r in curves):
        columns = {c: np.asarray([r.get(c) for r in curves]) for c in _COLUMNS}
    else:
        raise ValidationError(
            "curves must be a table with columns strategy, seed, n_labels, score",
            field="curves",
        )
    missing = [c for c in _COLUMNS if c not in columns]
    if missing:
        raise ValidationError(f"curves has no column {missing[0]!r}", field="curves")
    if len(columns["strategy"]) == 0:
        raise ValidationError("curves is empty: nothing to plot", field="curves")
    return {
        "strategy": columns["strategy"].astype(str),
        "seed": columns["seed"],
        "n_labels": columns["n_labels"].astype(float),
        "score": columns["score"].astype(float),
    }


def _mean_curve(
    table: dict[str, np.ndarray], strategy: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of the score over seeds at each label count."""
    rows = table["strategy"] == strategy
    n_labels = table["n_labels"][rows]
    score = table["score"][rows]
    points = np.unique(n_labels)
    mean = np.array([score[n_labels == n].mean() for n in points])
    std = np.array([score[n_labels == n].std() for n in points])
    return points, mean, std
