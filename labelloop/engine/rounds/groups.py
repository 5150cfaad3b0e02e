"""What ``auto``'s options read in a round: rare classes, and the groups of the items.

Rules
-----
1. The options apply to ``auto`` on single-label projects only; with another strategy,
   or multi-label, they are off.
2. Group sampling reads the first of the project's ``group_fields``: each item's group is
   its metadata value for that key (items without it have no group and are never a
   group's pick).
3. ``minmax`` reads each group's accuracy on the labelled evaluation set under the
   round's model; without labelled evaluation items in any group (no model yet, or no
   evaluation labels), that round samples without groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.rounds.inputs import IN_BATCH, ProjectSnapshot
from labelloop.store.tables import ItemRow

__all__ = ["AutoInputs", "group_scores", "read_auto_inputs"]


@dataclass
class AutoInputs:
    """The keyword arguments of ``select_chunked`` for ``auto``'s options."""

    rare_classes: str = "off"
    group_sampling: str = "off"
    pool_groups: dict[int, str] | None = None
    labelled_groups: list[str | None] | None = None
    eval_groups: list[str | None] = field(default_factory=list)
    group_scores: dict[str, float] | None = None

    def options(self) -> dict[str, Any]:
        sampling = self.group_sampling
        if sampling == "minmax" and not self.group_scores:
            sampling = "off"  # rule 3
        return {
            "rare_classes": self.rare_classes,
            "group_sampling": sampling,
            "pool_groups": self.pool_groups if sampling != "off" else None,
            "labelled_groups": self.labelled_groups if sampling != "off" else None,
            "group_scores": self.group_scores if sampling == "minmax" else None,
        }


def read_auto_inputs(
    session: Session,
    project: ProjectSnapshot,
    train_ids: Sequence[int],
    eval_ids: Sequence[int],
) -> AutoInputs:
    """Rules 1 and 2: the options in force and, for group sampling, every item's group."""
    if project.strategy != "auto" or project.multi_label:
        return AutoInputs()
    inputs = AutoInputs(rare_classes=project.settings.get("rare_classes", "off"))
    sampling = project.settings.get("group_sampling", "off")
    fields = project.settings.get("group_fields") or []
    if sampling == "off" or not fields:
        return inputs
    key = ItemRow.meta[fields[0]].as_string()
    pool = {
        item_id: value
        for item_id, value in session.execute(
            select(ItemRow.id, key).where(
                ItemRow.project_id == project.id,
                ItemRow.is_eval.is_(False),
                ItemRow.status == "open",
            )
        )
        if value is not None
    }
    inputs.group_sampling = sampling
    inputs.pool_groups = pool
    inputs.labelled_groups = _groups_of(session, key, train_ids)
    inputs.eval_groups = _groups_of(session, key, eval_ids)
    return inputs


def _groups_of(session: Session, key: Any, item_ids: Sequence[int]) -> list[str | None]:
    found: dict[int, str | None] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), IN_BATCH):
        found.update(
            session.execute(
                select(ItemRow.id, key).where(ItemRow.id.in_(ids[start : start + IN_BATCH]))
            ).all()
        )
    return [found.get(i) for i in ids]


def group_scores(
    groups: Sequence[str | None], truth: Sequence[Any], predicted: Sequence[Any]
) -> dict[str, float]:
    """Rule 3: each group's accuracy on the labelled evaluation items."""
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for group, true, guess in zip(groups, truth, predicted, strict=True):
        if group is None:
            continue
        right[group][0] += int(true == guess)
        right[group][1] += 1
    return {group: hits / n for group, (hits, n) in right.items() if n}
