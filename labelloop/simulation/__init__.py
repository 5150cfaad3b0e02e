"""Oracle simulation: replay the labelling loop with the true labels and draw learning curves.

:func:`simulate` hides the labels of a training pool, lets each strategy pick batches
from it (the true labels answer), retrains after every batch and scores the model on a
held-out test set. Every strategy sees the same split and the same initial labels within
a seed, so the curves compare strategies and nothing else. :class:`SimulationResult`
holds the curves and reads AULC, labels to a target and ratios to a baseline from them.

Where the rules live: ``_replay`` (:func:`simulate`), ``_result``
(:class:`SimulationResult`, :data:`CURVE_COLUMNS`).
"""

from __future__ import annotations

from labelloop.simulation._replay import simulate
from labelloop.simulation._result import CURVE_COLUMNS, SimulationResult

__all__ = ["CURVE_COLUMNS", "SimulationResult", "simulate"]
