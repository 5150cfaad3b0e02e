"""The fairness report: per group of a project's group attributes, who is in the pool,
who is labelled, and how well the model serves them.

A project names its group attributes in the ``group_fields`` setting (item metadata
keys, e.g. ``["sex", "race"]``); `fairness_report` reads them all, or the ones asked
for. Rules:

1. Per group (each value of a field; items without it form the group ``(none)``): its
   share of the pool, of the labelled items and of the evaluation set; the distribution
   of its final labels; the agreement between annotators on its items labelled twice or
   more (the share of those items on which every human annotation agrees).
2. The model's accuracy and macro-F1 on the group's labelled evaluation items, with
   bootstrap intervals, and its accuracy gap to the rest of the evaluation set
   (`labelloop.report.fairness.group_quality`), for the latest round's model. The
   evaluation set is a random sample, so these are unbiased; actively picked items are
   not, and are never used here.
3. Flags, in words: **under-represented** when the group's share of the labels is
   below its share of the pool and a binomial test says so (p < 0.05); **model gap**
   when the accuracy gap's interval excludes zero; **small** when it has fewer than
   ``min_n`` labelled evaluation items. A small group is flagged, never dropped.
4. Counts are SQL aggregates over the metadata value (the pool is never read into
   memory); only labelled evaluation items and annotations of multiply-labelled items
   are read row by row.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select

from labelloop.engine.core.final_label import LABELLED_STATUSES
from labelloop.engine.core.priority import ranking_model
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import ValidationError
from labelloop.report.fairness import group_quality
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow, PredictionRow

__all__ = ["FairnessReport", "FieldReport", "GroupRow", "fairness_report"]

NONE_GROUP = "(none)"


@dataclass(frozen=True)
class GroupRow:
    """One group of one field: its shares, labels, agreement, model quality and flags."""

    group: str
    n_pool: int
    pool_share: float
    n_labelled: int
    label_share: float
    n_eval: int
    eval_share: float
    label_counts: dict[str, int]
    n_multi: int
    agreement: float | None
    n_eval_labelled: int
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    macro_f1: float | None
    macro_f1_ci: tuple[float, float] | None
    accuracy_gap: float | None
    accuracy_gap_ci: tuple[float, float] | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class FieldReport:
    """The groups of one field, largest in the pool first."""

    field: str
    groups: tuple[GroupRow, ...]


@dataclass(frozen=True)
class FairnessReport:
    """The report of every field asked for; ``model_version`` scored the evaluation set."""

    project: str
    model_version: int | None
    fields: tuple[FieldReport, ...] = field(default_factory=tuple)
    note: str | None = None


def _value(raw: Any) -> str:
    return NONE_GROUP if raw is None else str(raw)


def _counts(session: Any, project_id: int, key: Any) -> dict[str, dict[str, int]]:
    """Rule 4: per group, items in all, labelled ones and evaluation ones."""
    labelled = ItemRow.status.in_(LABELLED_STATUSES)
    found: dict[str, dict[str, int]] = defaultdict(lambda: {"pool": 0, "labelled": 0, "eval": 0})
    for value, is_eval, is_labelled, count in session.execute(
        select(key, ItemRow.is_eval, labelled, func.count())
        .where(ItemRow.project_id == project_id)
        .group_by(key, ItemRow.is_eval, labelled)
    ):
        row = found[_value(value)]
        row["pool"] += count
        row["labelled"] += count if is_labelled else 0
        row["eval"] += count if is_eval else 0
    return found


def _label_counts(session: Any, project_id: int, key: Any) -> dict[str, Counter]:
    found: dict[str, Counter] = defaultdict(Counter)
    for value, label, count in session.execute(
        select(key, ItemRow.final_label, func.count())
        .where(ItemRow.project_id == project_id, ItemRow.status.in_(LABELLED_STATUSES))
        .group_by(key, ItemRow.final_label)
    ):
        name = ",".join(sorted(label)) if isinstance(label, list) else str(label)
        found[_value(value)][name] += count
    return found


def _agreement(session: Any, project_id: int, key: Any) -> dict[str, tuple[int, int]]:
    """Per group: (items labelled by two or more people, those on which all agree)."""
    multi = (
        select(AnnotationRow.item_id)
        .where(
            AnnotationRow.project_id == project_id,
            AnnotationRow.status == "active",
            AnnotationRow.source == "human",
        )
        .group_by(AnnotationRow.item_id)
        .having(func.count() >= 2)
        .subquery()
    )
    votes: dict[int, list[str]] = defaultdict(list)
    group_of: dict[int, str] = {}
    for item_id, value, label in session.execute(
        select(AnnotationRow.item_id, key, AnnotationRow.label)
        .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
        .where(
            AnnotationRow.item_id.in_(select(multi.c.item_id)),
            AnnotationRow.status == "active",
            AnnotationRow.source == "human",
        )
    ):
        votes[item_id].append(repr(sorted(label) if isinstance(label, list) else label))
        group_of[item_id] = _value(value)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item_id, labels in votes.items():
        row = found[group_of[item_id]]
        row[0] += 1
        row[1] += int(len(set(labels)) == 1)
    return {group: (n, agree) for group, (n, agree) in found.items()}


def _eval_rows(
    session: Any, project: Any, key: Any, model_version_id: int
) -> tuple[list[str], list[str], list[str]]:
    """Rule 2: (true label, the model's label, group) of each labelled evaluation item."""
    labels = list(project.labels)
    rows = session.execute(
        select(ItemRow.id, key, ItemRow.final_label, PredictionRow.probabilities)
        .join(PredictionRow, PredictionRow.item_id == ItemRow.id)
        .where(
            ItemRow.project_id == project.id,
            ItemRow.is_eval.is_(True),
            ItemRow.status.in_(LABELLED_STATUSES),
            PredictionRow.model_version_id == model_version_id,
        )
    ).all()
    truth, predicted, groups = [], [], []
    for _, value, label, proba in rows:
        scores = [float((proba or {}).get(name, 0.0)) for name in labels]
        truth.append(str(label))
        predicted.append(labels[int(np.argmax(scores))])
        groups.append(_value(value))
    return truth, predicted, groups


def _under_represented(n_labelled: int, total_labelled: int, pool_share: float) -> bool:
    if total_labelled == 0 or pool_share <= 0:
        return False
    from scipy.stats import binomtest

    share = n_labelled / total_labelled
    return share < pool_share and binomtest(n_labelled, total_labelled, pool_share).pvalue < 0.05


def _field_report(
    session: Any, project: Any, name: str, version_id: int | None, min_n: int, seed: int
) -> FieldReport:
    key = ItemRow.meta[name].as_string()
    counts = _counts(session, project.id, key)
    label_counts = _label_counts(session, project.id, key)
    agreement = _agreement(session, project.id, key)
    quality = {}
    if version_id is not None and not project.multi_label:
        truth, predicted, groups = _eval_rows(session, project, key, version_id)
        if truth:
            quality = {
                q.group: q
                for q in group_quality(
                    truth, predicted, groups, labels=list(project.labels), min_n=min_n, seed=seed
                )
            }
    totals = {k: sum(c[k] for c in counts.values()) for k in ("pool", "labelled", "eval")}
    rows = []
    for group, c in sorted(counts.items(), key=lambda kv: (-kv[1]["pool"], kv[0])):
        q = quality.get(group)
        pool_share = c["pool"] / totals["pool"] if totals["pool"] else 0.0
        flags = []
        if _under_represented(c["labelled"], totals["labelled"], pool_share):
            flags.append("under-represented among the labels")
        if q is not None and q.gap_flagged:
            worse = "worse" if (q.accuracy_gap or 0) < 0 else "better"
            flags.append(f"model gap: served {worse} than the rest")
        if q is None or q.small:
            flags.append(f"small: fewer than {min_n} labelled evaluation items")
        n_multi, n_agree = agreement.get(group, (0, 0))
        rows.append(
            GroupRow(
                group=group,
                n_pool=c["pool"],
                pool_share=pool_share,
                n_labelled=c["labelled"],
                label_share=c["labelled"] / totals["labelled"] if totals["labelled"] else 0.0,
                n_eval=c["eval"],
                eval_share=c["eval"] / totals["eval"] if totals["eval"] else 0.0,
                label_counts=dict(label_counts.get(group, {})),
                n_multi=n_multi,
                agreement=n_agree / n_multi if n_multi else None,
                n_eval_labelled=q.n if q else 0,
                accuracy=q.accuracy if q else None,
                accuracy_ci=q.accuracy_ci if q else None,
                macro_f1=q.macro_f1 if q else None,
                macro_f1_ci=q.macro_f1_ci if q else None,
                accuracy_gap=q.accuracy_gap if q else None,
                accuracy_gap_ci=q.accuracy_gap_ci if q else None,
                flags=tuple(flags),
            )
        )
    return FieldReport(name, tuple(rows))


def fairness_report(
    db: Database,
    *,
    project: int | str,
    fields: list[str] | None = None,
    min_n: int = 30,
    seed: int = 0,
) -> FairnessReport:
    """The fairness report of the project's group attributes (or of ``fields``).

    Raises
    ------
    ValidationError
        ``fields`` is not a list of non-empty strings, or ``min_n`` is below 1.
    """
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields)
    ):
        raise ValidationError("fields must be a list of metadata keys", field="fields")
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise ValidationError(f"min_n must be a positive int, got {min_n!r}", field="min_n")
    with db.read() as session:
        row = resolve_project(session, project)
        names = fields if fields is not None else list(effective_settings(row)["group_fields"])
        ranked_by = ranking_model(session, row.id)
        if not names:
            return FairnessReport(
                row.name,
                ranked_by[1] if ranked_by else None,
                note="no group attributes: set group_fields to the metadata keys that "
                'name groups, e.g. ["sex", "race"]',
            )
        reports = tuple(
            _field_report(session, row, name, ranked_by[0] if ranked_by else None, min_n, seed)
            for name in names
        )
    note = None
    if ranked_by is None:
        note = "no model yet: the model's quality per group comes after the first round"
    elif row.multi_label:
        note = "model quality per group is reported for single-label projects only"
    return FairnessReport(row.name, ranked_by[1] if ranked_by else None, reports, note)
