"""The round's label check: out-of-fold probabilities of its training labels, suspects stored.

Rules
-----
1. The check runs on the round's training set once a model is fitted, for single-label
   projects, unless ``label_check_folds`` is 0. Each label is judged by a model of the
   round's kind fitted on the other folds (`labelloop.quality.out_of_fold_probabilities`),
   so a label never vouches for itself.
2. Its cost is bounded: at most ``label_check_max_items`` labels are checked, a random
   sample seeded by the round's number (so successive rounds check different samples),
   each fold fitting on at most that many rows.
3. It is computed with the fit, outside any write transaction (`check_labels`); its
   suspects are written after the round commits, in one transaction (`write_suspects`).
   A label check that cannot be made (too few labels per class) writes nothing.
4. The suspect queue keeps one ``open`` row per item, ranked by cleanlab's quality:
   a flagged item's open row is updated; an item a reviewer already ruled on with the
   same given label is not flagged again; an item checked and no longer flagged has its
   open row ``dropped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from labelloop.engine.core.labels import label_key
from labelloop.engine.rounds.inputs import IN_BATCH, ProjectSnapshot
from labelloop.store.db import Database
from labelloop.store.tables import LabelSuspectRow, utcnow

if TYPE_CHECKING:  # scikit-learn loads on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = ["LabelCheck", "check_labels", "write_suspects"]

_RULED = ("confirmed", "cleared")


@dataclass(frozen=True)
class LabelCheck:
    """What one round's label check found, before it is stored."""

    checked: tuple[int, ...]
    flagged: tuple[tuple[int, Any, Any, float, int], ...]  # item, given, suggested, quality, rank
    folds: int

    def summary(self) -> dict[str, int]:
        """The round's metrics entry: labels checked and flagged, folds used."""
        return {"checked": len(self.checked), "flagged": len(self.flagged), "folds": self.folds}


def check_labels(
    project: ProjectSnapshot,
    model: ProjectModel,
    X: Any,
    y: np.ndarray,
    item_ids: Sequence[int],
    labels: Sequence[Any],
    *,
    seed: int,
) -> LabelCheck | None:
    """Rules 1 and 2: the round's suspects, or None when the check is off or cannot run."""
    from labelloop.quality import out_of_fold_probabilities, rank_label_issues

    folds = int(project.settings.get("label_check_folds") or 0)
    if folds < 2 or project.multi_label:
        return None
    classes, codes = np.unique(np.asarray(y, dtype=str), return_inverse=True)
    counts = np.bincount(codes)
    if classes.size < 2 or np.sort(counts)[-2] < 2:
        return None
    max_items = int(project.settings.get("label_check_max_items") or 20_000)
    proba = out_of_fold_probabilities(
        model.classifier,
        X,
        codes,
        n_classes=classes.size,
        n_folds=folds,
        max_items=max_items,
        random_state=seed,
    )
    rows = np.flatnonzero(~np.isnan(proba[:, 0]))
    issues = rank_label_issues(codes[rows], proba[rows])
    flagged = tuple(
        (
            int(item_ids[rows[i]]),
            labels[rows[i]],
            str(classes[issues.suggested[i]]),
            float(issues.quality[i]),
            rank,
        )
        for rank, i in enumerate(issues.ranked, start=1)
    )
    return LabelCheck(checked=tuple(int(item_ids[r]) for r in rows), flagged=flagged, folds=folds)


def _ruled(session: Any, project_id: int, item_ids: list[int]) -> set[tuple[int, str]]:
    """(item, given label) pairs a reviewer already ruled on."""
    ruled: set[tuple[int, str]] = set()
    for start in range(0, len(item_ids), IN_BATCH):
        rows = session.execute(
            select(LabelSuspectRow.item_id, LabelSuspectRow.given_label).where(
                LabelSuspectRow.project_id == project_id,
                LabelSuspectRow.status.in_(_RULED),
                LabelSuspectRow.item_id.in_(item_ids[start : start + IN_BATCH]),
            )
        )
        ruled.update((row.item_id, label_key(row.given_label)) for row in rows)
    return ruled


def write_suspects(db: Database, project_id: int, check: LabelCheck, round_number: int) -> int:
    """Rule 4: store a check's suspects in one transaction; returns the open ones it left."""
    now = utcnow()
    with db.transaction() as session:
        open_rows = {
            row.item_id: row
            for row in session.execute(
                select(LabelSuspectRow).where(
                    LabelSuspectRow.project_id == project_id, LabelSuspectRow.status == "open"
                )
            ).scalars()
        }
        ruled = _ruled(session, project_id, [flag[0] for flag in check.flagged])
        flagged_ids = set()
        for item_id, given, suggested, quality, rank in check.flagged:
            if (item_id, label_key(given)) in ruled:
                continue
            flagged_ids.add(item_id)
            values = {
                "round_number": round_number,
                "given_label": given,
                "suggested_label": suggested,
                "quality": quality,
                "rank": rank,
            }
            row = open_rows.get(item_id)
            if row is None:
                session.add(
                    LabelSuspectRow(project_id=project_id, item_id=item_id, status="open", **values)
                )
            else:
                for column, value in values.items():
                    setattr(row, column, value)
        checked = set(check.checked)
        for item_id in checked - flagged_ids:
            row = open_rows.get(item_id)
            if row is not None:
                row.status, row.resolved_at = "dropped", now
        return len(flagged_ids) + sum(1 for item_id in open_rows if item_id not in checked)
