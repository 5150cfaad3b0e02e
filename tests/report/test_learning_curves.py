"""The learning-curve plot draws one line per strategy and saves an image."""

from __future__ import annotations

import pytest

from labelloop.exceptions import ValidationError
from labelloop.report import plot_learning_curves

ROWS = [
    {"strategy": s, "seed": seed, "n_labels": n, "score": n / 100 + seed / 50}
    for s in ("random", "margin")
    for seed in (0, 1)
    for n in (10, 20, 30)
]


def test_mean_curves_with_baseline_last_and_saved_png(tmp_path):
    path = tmp_path / "curve.png"
    fig = plot_learning_curves(ROWS, path, full_score=0.4, title="demo")
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines[:2]] == ["margin", "random"]
    assert lines[1].get_linestyle() == "--"
    assert lines[0].get_ydata().tolist() == pytest.approx([0.11, 0.21, 0.31])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_column_mapping_is_accepted():
    columns = {key: [row[key] for row in ROWS] for key in ROWS[0]}
    fig = plot_learning_curves(columns)
    assert len(fig.axes[0].lines) == 2


def test_bad_tables_and_paths_are_named(tmp_path):
    with pytest.raises(ValidationError, match="no column 'score'"):
        plot_learning_curves({"strategy": ["a"], "seed": [0], "n_labels": [1]})
    with pytest.raises(ValidationError, match="empty"):
        plot_learning_curves([])
    with pytest.raises(ValidationError, match="does not exist"):
        plot_learning_curves(ROWS, tmp_path / "missing" / "curve.png")
