"""Auto-labelling at a certified precision: thresholds, bounds, and the labels they need.

Library functions a notebook can call as the engine does::

    from labelloop.automation import calibrate_threshold
    threshold = calibrate_threshold(proba, labels, target_precision=0.95, risk=0.05)

- `calibrate_threshold`, `calibrate`, `calibrate_class_thresholds`, `calibrate_per_class`,
  `labels_to_certify`
  (`_threshold`): a threshold on the top-class probability that reaches a target
  precision with probability ``1 - risk``, by Clopper-Pearson bounds and fixed-sequence
  testing over a fixed grid (Learn-then-Test).
- `precision_lower_bound`, `precision_interval` (`_bounds`): Clopper-Pearson bounds of a
  measured precision, as the spot checks of auto-labels use.
"""

from labelloop.automation._bounds import precision_interval, precision_lower_bound
from labelloop.automation._threshold import (
    Calibration,
    calibrate,
    calibrate_class_thresholds,
    calibrate_per_class,
    calibrate_threshold,
    first_tested,
    labels_to_certify,
    threshold_grid,
)

__all__ = [
    "Calibration",
    "calibrate",
    "calibrate_class_thresholds",
    "calibrate_per_class",
    "calibrate_threshold",
    "first_tested",
    "labels_to_certify",
    "precision_interval",
    "precision_lower_bound",
    "threshold_grid",
]
