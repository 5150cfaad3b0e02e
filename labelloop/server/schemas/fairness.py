"""The fairness report is the engine's dataclass."""

from __future__ import annotations

from labelloop.engine.fairness import FairnessReport, FieldReport, GroupRow

__all__ = ["FairnessReport", "FieldReport", "GroupRow"]
