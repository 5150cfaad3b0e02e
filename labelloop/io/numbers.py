"""Numbers read back from a conversion: coordinates snapped to the grid they were on."""

from __future__ import annotations

__all__ = ["SNAP_DIGITS", "snap"]

#: Decimal places a converted coordinate is snapped to (1e-6 pixel).
SNAP_DIGITS = 6


def snap(value: float) -> float:
    """``value`` rounded to `SNAP_DIGITS` decimals when that is within float error of it.

    A coordinate written as ``x / w * 100`` or ``x2 - x1`` and read back as
    ``p / 100 * w`` or ``x1 + width`` is off by a few units in the last place; snapping
    gives back the coordinate it was (any with at most six decimals), so round trips
    through percent (Label Studio) and width/height (COCO) coordinates are exact.

    Examples
    --------
    >>> 0.1 + 0.2, snap(0.1 + 0.2)
    (0.30000000000000004, 0.3)
    >>> snap(1 / 3)
    0.3333333333333333
    """
    value = float(value)
    rounded = round(value, SNAP_DIGITS)
    return rounded if abs(rounded - value) <= 1e-9 * max(1.0, abs(value)) else value
