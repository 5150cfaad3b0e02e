"""A reviewer rules on a suspect label: confirms it wrong (and corrects it) or clears it.

Rules
-----
1. Only an ``open`` suspect whose item still holds the label that was flagged can be
   ruled on; otherwise the suspect is ``dropped`` and the call refused (the next round
   checks the new label).
2. ``confirm``: the label was wrong. The reviewer's label (by default the one the model
   suggests; it must differ from the flagged one) is kept as an annotation with source
   ``review`` and a ``correct`` review row per active annotation, and the item is
   settled with that verdict: status ``accepted``, the corrected label.
3. ``clear``: the label was right. An ``accept`` review row per active annotation, and
   the item is settled with that verdict: status ``accepted``, the same label.
4. Both go through `labelloop.engine.core.final_label.settle_item`, the only writer of
   final labels, and write one audit event (``label_suspect.confirmed`` or
   ``label_suspect.cleared``) in the same transaction; a correction counts toward the
   next automatic retrain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labelloop.engine.core.final_label import LABELLED_STATUSES, VOTING_SOURCES, settle_item
from labelloop.engine.core.identity import REVIEW_ROLES, UserInfo, check_user
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.core.labels import label_key
from labelloop.engine.core.outbox import maybe_enqueue_retrain
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.engine.quality.suspects import SuspectInfo, suspect_info
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    LabelSuspectRow,
    ReviewRow,
    TaskRow,
    utcnow,
)

__all__ = ["SUSPECT_VERDICTS", "resolve_suspect"]

SUSPECT_VERDICTS = ("confirm", "clear")
_MAX_NOTE = 5000
_IN = " in project {!r}"


def _check_args(verdict: Any, note: Any) -> None:
    if verdict not in SUSPECT_VERDICTS:
        raise ValidationError(f"unknown verdict {verdict!r}: use confirm or clear", field="verdict")
    if note is not None and (not isinstance(note, str) or len(note) > _MAX_NOTE):
        raise ValidationError(
            f"note must be a string of at most {_MAX_NOTE} characters", field="note"
        )


def resolve_suspect(
    db: Database,
    *,
    suspect_id: int,
    user: UserInfo,
    verdict: str,
    label: Any = None,
    note: str | None = None,
    project: int | str | None = None,
) -> SuspectInfo:
    """Rule on a suspect label (rules 1 to 4).

    Parameters
    ----------
    db : Database
    suspect_id : int
    user : UserInfo
        An admin or reviewer.
    verdict : {"confirm", "clear"}
    label : str, optional
        For ``confirm``: the right label (default: the model's suggestion).
    note : str, optional
        Kept with the review rows.
    project : int or str, optional
        When given, the suspect must be this project's (else `NotFoundError`).

    Returns
    -------
    SuspectInfo
        The suspect, ruled.

    Raises
    ------
    NotFoundError
        No such suspect.
    ConflictError
        The suspect is not open, or its item's label changed since it was flagged.
    ValidationError
        A bad verdict or label, or a confirmation that keeps the flagged label.
    PermissionDeniedError
        The user may not review.
    """
    check_user(user, REVIEW_ROLES, "rule on suspect labels")
    _check_args(verdict, note)
    if isinstance(suspect_id, bool) or not isinstance(suspect_id, int):
        raise ValidationError("suspect_id must be an int", field="suspect_id")
    with db.transaction() as session:
        suspect = session.get(LabelSuspectRow, suspect_id, with_for_update=True)
        if project is not None and (
            suspect is None or resolve_project(session, project).id != suspect.project_id
        ):
            suspect = None
        if suspect is None:
            raise NotFoundError(f"no suspect label {suspect_id}" + _IN.format(project))
        if suspect.status != "open":
            raise ConflictError(f"suspect label {suspect_id} is {suspect.status} already")
        proj = resolve_project(session, suspect.project_id)
        item = session.get(ItemRow, suspect.item_id, with_for_update=True)
        given = suspect.given_label
        if item.status not in LABELLED_STATUSES or label_key(item.final_label) != label_key(given):
            suspect.status, suspect.resolved_at = "dropped", utcnow()
            stale = (
                f"item {item.external_id!r} no longer holds the flagged label {given!r}: "
                "the suspect is dropped, the next round checks the new label"
            )
        else:
            return _rule(session, suspect, proj, item, user, verdict, label, note)
    raise ConflictError(stale)  # after the drop commits


def _rule(
    session: Any,
    suspect: LabelSuspectRow,
    project: Any,
    item: ItemRow,
    user: UserInfo,
    verdict: str,
    label: Any,
    note: str | None,
) -> SuspectInfo:
    """Rules 2 to 4 in the caller's transaction; the suspect is open, its label stands."""
    given = suspect.given_label
    now = utcnow()
    annotations = list(
        session.execute(
            select(AnnotationRow)
            .where(
                AnnotationRow.item_id == item.id,
                AnnotationRow.status == "active",
                AnnotationRow.source.in_(VOTING_SOURCES),
            )
            .order_by(AnnotationRow.id)
        ).scalars()
    )
    label_task = session.execute(
        select(TaskRow)
        .where(TaskRow.item_id == item.id, TaskRow.queue == LABEL_QUEUE)
        .with_for_update()
    ).scalar_one_or_none()
    if verdict == "confirm":
        corrected = validate_label(
            project, label=suspect.suggested_label if label is None else label, labels=None
        )
        if label_key(corrected) == label_key(given):
            raise ValidationError(
                f"{corrected!r} is the flagged label: clear the suspect instead",
                field="label",
            )
        session.add(
            AnnotationRow(
                project_id=project.id,
                item_id=item.id,
                task_id=None if label_task is None else label_task.id,
                user_id=user.id,
                actor=user.name,
                source="review",
                label=corrected,
                guideline_version=project.guideline_version or None,
                status="active",
                created_at=now,
            )
        )
        standing: tuple[str, Any] = ("correct", corrected)
    else:
        corrected = None
        standing = ("accept", given)
    for row in annotations or [None]:
        agrees = row is None or label_key(row.label) == label_key(given)
        if not agrees and verdict == "clear":  # as a review's accept does
            row.status = "rejected"
        session.add(
            ReviewRow(
                project_id=project.id,
                item_id=item.id,
                annotation_id=None if row is None else row.id,
                reviewer_id=user.id,
                verdict=standing[0] if agrees or verdict == "confirm" else "reject",
                corrected_label=standing[1],
                note=note,
                created_at=now,
            )
        )
    session.flush()
    settle_item(session, project=project, item=item, task=label_task, verdict=standing)
    suspect.status = "confirmed" if verdict == "confirm" else "cleared"
    suspect.reviewer_id, suspect.corrected_label, suspect.resolved_at = user.id, corrected, now
    if verdict == "confirm":
        maybe_enqueue_retrain(session, project=project, actor=user.name)
    append_event(
        session,
        project_id=project.id,
        actor=user.name,
        action=f"label_suspect.{suspect.status}",
        target=f"item:{item.external_id}",
        before={"label": given, "quality": suspect.quality, "rank": suspect.rank},
        after={"label": item.final_label, "suspect_id": suspect.id, "note": note},
    )
    session.flush()
    return suspect_info(suspect, item.external_id)
