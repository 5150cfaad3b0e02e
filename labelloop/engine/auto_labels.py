"""Auto-labels as people see them: the list, with their spot checks, and resuming after a pause.

Rounds write auto-labels (`labelloop.engine.rounds.auto_labels`); spot checks and the
pause are the floor's (`labelloop.engine.core.auto_labels`).

Rules
-----
1. `list_auto_labels` lists a project's auto-labels newest first, each with what
   certified it (model version, round, confidence, threshold, bound) and, for a spot
   check people have decided, their label.
2. `resume_auto_labelling` closes the open pause (audited as ``auto_label.resumed``);
   the spot checks are measured afresh from then on, and the next round auto-labels
   again. Resuming a project that is not paused is refused, naming the project.
"""

from __future__ import annotations

import datetime as dt
import numbers
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from labelloop.engine.core.auto_labels import PEOPLE_SOURCES, open_pause
from labelloop.engine.core.final_label import LABELLED_STATUSES
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    AutoLabelRow,
    ItemRow,
    ModelVersionRow,
    utcnow,
)

__all__ = ["AutoLabelInfo", "list_auto_labels", "resume_auto_labelling"]


@dataclass(frozen=True)
class AutoLabelInfo:
    """One auto-label.

    Attributes
    ----------
    external_id : str
    label : str
        The model's label.
    model_version : int or None
    round : int
    confidence, threshold, bound : float
        The item's top-class probability, the certified threshold it cleared, and the
        precision's lower bound that certified it.
    spot_check : bool
        Whether the item was also sent to people.
    people_label : str or None
        The label people gave a spot check, once they decided; None before.
    standing : bool
        Whether the auto-label is still the item's final label.
    created_at : datetime
    """

    external_id: str
    label: Any
    model_version: int | None
    round: int
    confidence: float
    threshold: float
    bound: float
    spot_check: bool
    people_label: Any
    standing: bool
    created_at: dt.datetime


def _check_limit(limit: Any) -> int:
    if (
        isinstance(limit, bool)
        or not isinstance(limit, numbers.Integral)
        or not 1 <= limit <= 10_000
    ):
        raise ValidationError(
            f"limit must be an integer from 1 to 10000, got {limit!r}", field="limit"
        )
    return int(limit)


def list_auto_labels(
    db: Database, project: int | str, *, limit: int = 100, spot_checks_only: bool = False
) -> list[AutoLabelInfo]:
    """A project's auto-labels, newest first (rule 1).

    Parameters
    ----------
    db : Database
    project : int or str
    limit : int
        At most this many, from 1 to 10,000.
    spot_checks_only : bool
        Only those sent to people as spot checks.
    """
    limit = _check_limit(limit)
    with db.read() as session:
        proj = resolve_project(session, project)
        query = (
            select(AutoLabelRow, AnnotationRow.label, AnnotationRow.status, ItemRow,
                   ModelVersionRow.version)
            .join(AnnotationRow, AnnotationRow.id == AutoLabelRow.annotation_id)
            .join(ItemRow, ItemRow.id == AutoLabelRow.item_id)
            .outerjoin(ModelVersionRow, ModelVersionRow.id == AutoLabelRow.model_version_id)
            .where(AutoLabelRow.project_id == proj.id)
            .order_by(AutoLabelRow.id.desc())
            .limit(limit)
        )  # fmt: skip
        if spot_checks_only:
            query = query.where(AutoLabelRow.spot_check.is_(True))
        found = []
        for auto, label, annotation_status, item, version in session.execute(query):
            decided = item.status in LABELLED_STATUSES and item.label_source in PEOPLE_SOURCES
            found.append(
                AutoLabelInfo(
                    external_id=item.external_id,
                    label=label,
                    model_version=version,
                    round=auto.round_number,
                    confidence=auto.confidence,
                    threshold=auto.threshold,
                    bound=auto.bound,
                    spot_check=bool(auto.spot_check),
                    people_label=item.final_label if auto.spot_check and decided else None,
                    standing=annotation_status == "active" and item.label_source == "model",
                    created_at=auto.created_at,
                )
            )
        return found


def resume_auto_labelling(db: Database, *, actor: str, project: int | str) -> None:
    """Resume a paused project's auto-labelling (rule 2).

    Raises
    ------
    ValidationError
        The project's auto-labelling is not paused (``field="project"``).
    """
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("actor must name who resumes", field="actor")
    with db.transaction() as session:
        proj = resolve_project(session, project)
        pause = open_pause(session, proj.id)
        if pause is None:
            raise ValidationError(
                f"auto-labelling of project {proj.name!r} is not paused", field="project"
            )
        pause.resumed_at = utcnow()
        pause.resumed_by = actor
        append_event(
            session,
            project_id=proj.id,
            actor=actor,
            action="auto_label.resumed",
            target=f"project:{proj.name}",
            before={"reason": pause.reason},
        )
