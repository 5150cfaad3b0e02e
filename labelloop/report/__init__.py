"""Plots and reports of labelloop's results; matplotlib is imported only when drawing."""

from __future__ import annotations

from labelloop.report.learning_curves import plot_learning_curves

__all__ = ["plot_learning_curves"]
