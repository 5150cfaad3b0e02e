"""Charts for the web UI, drawn server-side as SVG text (matplotlib, Agg, imported lazily).

A chart has a transparent background (the page's colours show through; the style sheet
inverts its ink in dark mode) and counts labels on an integer axis starting at 0.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from labelloop.exceptions import ValidationError

__all__ = ["learning_curve_points", "learning_curve_svg"]

_SCORES = (("accuracy", "accuracy"), ("macro_f1", "macro F1"))


def learning_curve_points(rounds: Sequence[Any]) -> dict[str, list[tuple[int, float]]]:
    """The (labels, score) points of each evaluation score across a project's rounds.

    Parameters
    ----------
    rounds : sequence of RoundInfo or dict
        Rounds with ``n_labels`` and ``metrics``; the evaluation-set scores are read from
        ``metrics["eval"]`` and, for rounds without an evaluation set, from
        ``metrics["cv"]`` (cross-validation on the labelled set).

    Returns
    -------
    dict
        ``{"accuracy": [(n_labels, score), ...], "macro F1": [...]}`` in round order;
        rounds without a score are left out.
    """
    points: dict[str, list[tuple[int, float]]] = {name: [] for _, name in _SCORES}
    for position, entry in enumerate(rounds, start=1):
        get = entry.get if isinstance(entry, dict) else lambda key, e=entry: getattr(e, key, None)
        n_labels, metrics = get("n_labels"), get("metrics")
        if not isinstance(n_labels, int) or not isinstance(metrics, dict):
            raise ValidationError(
                f"round {position} needs an integer n_labels and a metrics dict", field="rounds"
            )
        scores = metrics.get("eval") or metrics.get("cv") or {}
        for key, name in _SCORES:
            value = scores.get(key) if isinstance(scores, dict) else None
            if isinstance(value, int | float):
                points[name].append((n_labels, float(value)))
    return points


def learning_curve_svg(
    rounds: Sequence[Any],
    *,
    width: float = 6.4,
    height: float = 3.2,
    band: Sequence[Sequence[float]] = (),
    target: float | None = None,
) -> str:
    """Draw the learning curve (labels vs evaluation-set score) as an inline ``<svg>`` element.

    Parameters
    ----------
    rounds : sequence of RoundInfo or dict
        See `learning_curve_points`.
    width, height : float
        Figure size in inches.
    band : sequence of (labels, score, low, high)
        A forecast drawn ahead of the curve: its line dotted, its interval shaded.
    target : float, optional
        The target score, drawn as a thin horizontal line.

    Returns
    -------
    str
        The ``<svg ...>...</svg>`` markup (no XML prologue), ready to inline in HTML; a
        chart with a "no scored round yet" note when no round has a score.
    """
    points = learning_curve_points(rounds)
    if not (0 < width <= 40 and 0 < height <= 40):
        raise ValidationError("width and height must be in (0, 40] inches", field="width")
    rows = [tuple(row) for row in band]
    for index, row in enumerate(rows):
        if len(row) != 4 or not all(isinstance(v, int | float) for v in row):
            raise ValidationError(
                f"band.{index} must be (labels, score, low, high)", field=f"band.{index}"
            )
    if target is not None and not (isinstance(target, int | float) and 0 <= target <= 1):
        raise ValidationError(f"target must be a score in [0, 1], got {target!r}", field="target")
    return _draw(points, width, height, rows, target)


def _draw(
    points: dict[str, list[tuple[int, float]]],
    width: float,
    height: float,
    band: list[tuple[float, ...]],
    target: float | None,
) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(width, height), dpi=96)
    axes = figure.add_subplot()
    drawn = False
    for (name, pairs), style in zip(points.items(), ("-o", "--s"), strict=False):
        if pairs:
            xs, ys = zip(*pairs, strict=True)
            axes.plot(xs, ys, style, markersize=4, linewidth=1.6, label=name)
            drawn = True
    if band:
        xs, mid, low, high = (list(column) for column in zip(*band, strict=True))
        axes.fill_between(xs, low, high, color="#7a5195", alpha=0.18, linewidth=0)
        axes.plot(xs, mid, ":", color="#7a5195", linewidth=1.6, label="forecast (80%)")
    if target is not None:
        axes.axhline(target, color="#888", linewidth=0.8, linestyle="--", label="target")
    if drawn:
        axes.legend(loc="lower right", frameon=False, fontsize=9)
        axes.set_ylim(0, 1.02)
        # Labels are counted in whole items, from none: one round's single point too.
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlim(
            left=0, right=max(x for pairs in points.values() for x, _ in pairs) * 1.05 + 1
        )
    else:
        axes.text(0.5, 0.5, "no scored round yet", ha="center", va="center", color="#666")
        axes.set_xticks([])
        axes.set_yticks([])
    axes.set_xlabel("labelled items")
    axes.set_ylabel("evaluation-set score")
    axes.grid(alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "labelloop"}):
        # No background of its own: the page's card shows through, in light and dark mode.
        figure.savefig(buffer, format="svg", transparent=True)
    text = buffer.getvalue()
    return text[text.index("<svg") :]
