"""Per guideline version, how the labels made under it fared: agreement, corrections, rejections.

Rules
-----
1. An annotation belongs to the guideline version in force when it was made (each
   annotation records it; none before the first version: version 0). Annotations that
   count are by humans and models, active or rejected, as for agreement; undone ones,
   imports and reviewers' own labels do not.
2. Agreement: on the items two or more annotators labelled under the version (each
   annotator's latest label there), the share of agreeing annotator pairs.
3. Correction and rejection rates: of the version's annotations a reviewer ruled on
   (the latest verdict on each), the share corrected (to another label) and the share
   rejected. A correction to the annotation's own label counts as accepted.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from labelloop.engine.core.labels import label_key
from labelloop.engine.core.project import resolve_project
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    GuidelineExampleRow,
    GuidelineVersionRow,
    ReviewRow,
)

__all__ = ["GuidelineVersionRates", "guideline_versions"]


@dataclass(frozen=True)
class GuidelineVersionRates:
    """One guideline version and the labels made under it (rules 1-3)."""

    version: int
    created_by: str | None
    created_at: dt.datetime | None
    note: str | None
    n_examples_added: int
    n_annotations: int
    n_items_shared: int
    agreement: float | None
    n_reviewed: int
    n_corrected: int
    n_rejected: int
    correction_rate: float | None
    rejection_rate: float | None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def guideline_versions(db: Database, project: int | str) -> tuple[GuidelineVersionRates, ...]:
    """Every guideline version, oldest first, with the rates of the labels made under it.

    Version 0 (labels made before the first guidelines) is listed when there are such
    labels.

    Parameters
    ----------
    db : Database
    project : int or str
        Project id or name.

    Returns
    -------
    tuple of GuidelineVersionRates
    """
    with db.read() as session:
        row = resolve_project(session, project)
        versions = (
            session.execute(
                select(GuidelineVersionRow)
                .where(GuidelineVersionRow.project_id == row.id)
                .order_by(GuidelineVersionRow.version)
            )
            .scalars()
            .all()
        )
        added = Counter(
            session.execute(
                select(GuidelineExampleRow.version).where(GuidelineExampleRow.project_id == row.id)
            ).scalars()
        )
        annotations = session.execute(
            select(
                AnnotationRow.id,
                AnnotationRow.item_id,
                AnnotationRow.actor,
                AnnotationRow.label,
                AnnotationRow.guideline_version,
            )
            .where(
                AnnotationRow.project_id == row.id,
                AnnotationRow.source.in_(("human", "model")),
                AnnotationRow.status.in_(("active", "rejected")),
            )
            .order_by(AnnotationRow.id)
        ).all()
        verdicts = session.execute(
            select(ReviewRow.annotation_id, ReviewRow.verdict, ReviewRow.corrected_label)
            .where(ReviewRow.project_id == row.id, ReviewRow.annotation_id.is_not(None))
            .order_by(ReviewRow.id)
        ).all()
        listed = [(v.version, v.created_by, v.created_at, v.note) for v in versions]

    version_of = {a.id: a.guideline_version or 0 for a in annotations}
    label_of = {a.id: label_key(a.label) for a in annotations}
    counted: Counter[int] = Counter(version_of.values())
    votes: dict[int, dict[int, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for a in annotations:  # in id order: an annotator's latest label stands
        votes[version_of[a.id]][a.item_id][a.actor] = label_of[a.id]
    latest: dict[int, str] = {}
    for annotation_id, verdict, corrected in verdicts:
        if annotation_id not in version_of:
            continue
        if verdict == "correct" and label_key(corrected) == label_of[annotation_id]:
            verdict = "accept"
        latest[annotation_id] = verdict
    ruled: dict[int, Counter[str]] = defaultdict(Counter)
    for annotation_id, verdict in latest.items():
        ruled[version_of[annotation_id]][verdict] += 1

    if counted.get(0):
        listed.insert(0, (0, None, None, None))
    found = []
    for version, created_by, created_at, note in listed:
        shared = [v for v in votes[version].values() if len(v) >= 2]
        pairs = agreeing = 0
        for by_actor in shared:
            for a, b in itertools.combinations(by_actor.values(), 2):
                pairs += 1
                agreeing += a == b
        tally = ruled[version]
        n_reviewed = sum(tally.values())
        found.append(
            GuidelineVersionRates(
                version=version,
                created_by=created_by,
                created_at=created_at,
                note=note,
                n_examples_added=added.get(version, 0),
                n_annotations=counted.get(version, 0),
                n_items_shared=len(shared),
                agreement=_share(agreeing, pairs),
                n_reviewed=n_reviewed,
                n_corrected=tally["correct"],
                n_rejected=tally["reject"],
                correction_rate=_share(tally["correct"], n_reviewed),
                rejection_rate=_share(tally["reject"], n_reviewed),
            )
        )
    return tuple(found)
