"""Where people disagree, gathered for the guidelines: by confusion and by similar items.

Rules
-----
1. A disagreement is one of: a reviewer's correction of an annotation (``correction``:
   the annotation's label -> the reviewer's), a suspect label a reviewer confirmed
   (``confirmed``: the flagged label -> the reviewer's), or an annotation that differs
   from another annotator's on the same item (``split``: the annotation's label -> the
   item's final label; while the item has none, the pair of the two most given labels,
   in label order). Annotations that count are human and model ones, active or
   rejected; an annotator's latest label on an item stands.
2. One disagreement per (item, given, right label): a confirmed suspect also writes a
   correction, and a correction of a split item also resolves the split; the first kind
   in the order of rule 1 is kept.
3. "This week" is the 7 days up to ``now``; a disagreement's time is the review's, the
   ruling's, or the annotation's.
4. Clusters: the project's featurizer (the built-in model's, as rounds fit it) on at
   most ``max_items`` labelled items (every disagreement's item first, then the newest
   labelled ones), k-means (`labelloop.quality.cluster_rows`) with k the smaller of
   ``n_clusters`` and sqrt(n / 2) for n items, so that few items make few clusters. A
   cluster's error rate is its share of items with a disagreement; mislabelled clusters
   are those `labelloop.quality.cluster_error_rates` marks. Text clusters are described by their
   top terms, others by their size and a few item ids.
5. A confusion is "mostly in" a cluster when at least half of its items are in it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from labelloop.engine.core.labels import label_key
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import LabelloopError, ValidationError
from labelloop.quality import cluster_error_rates, cluster_rows, confusion_counts, top_terms
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    LabelSuspectRow,
    ProjectRow,
    ReviewRow,
    utcnow,
)

__all__ = [
    "KINDS",
    "ClusterInfo",
    "ConfusionGroup",
    "DisagreementItem",
    "DisagreementReport",
    "disagreement_report",
]

KINDS = ("correction", "confirmed", "split")
WEEK = dt.timedelta(days=7)
_SNIPPET = 160
_ITEMS_PER_GROUP = 50
_EXAMPLE_IDS = 5


@dataclass(frozen=True)
class DisagreementItem:
    """One disagreement (rule 1) on one item."""

    item_id: int
    item_external_id: str
    snippet: str
    given: Any
    correct: Any
    kind: str
    at: dt.datetime
    cluster: int | None


@dataclass(frozen=True)
class ConfusionGroup:
    """The disagreements of one confusion (given -> right label), with counts over time."""

    given: Any
    correct: Any
    n_this_week: int
    n_before: int
    kinds: dict[str, int]
    cluster: int | None
    cluster_share: float | None
    description: str
    items: tuple[DisagreementItem, ...]

    @property
    def n_total(self) -> int:
        """This week's and earlier disagreements."""
        return self.n_this_week + self.n_before


@dataclass(frozen=True)
class ClusterInfo:
    """One cluster of similar items (rule 4)."""

    index: int
    size: int
    n_flagged: int
    rate: float
    terms: tuple[str, ...]
    example_item_ids: tuple[str, ...]
    mislabelled: bool
    description: str


@dataclass(frozen=True)
class DisagreementReport:
    """Disagreements grouped by confusion and by cluster, and the mislabelled clusters."""

    project_id: int
    now: dt.datetime
    since: dt.datetime
    n_disagreements: int
    n_this_week: int
    groups: tuple[ConfusionGroup, ...]
    clusters: tuple[ClusterInfo, ...]
    mislabelled_clusters: tuple[ClusterInfo, ...]
    overall_rate: float | None
    clusters_note: str | None


def _text(label: Any) -> str:
    if label is None:
        return "?"
    if isinstance(label, list):
        return "+".join(str(x) for x in label) or "(none)"
    return str(label)


def _snippet(payload: dict[str, Any] | None, external_id: str) -> str:
    text = (payload or {}).get("text")
    if isinstance(text, str) and text.strip():
        text = " ".join(text.split())
        return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
    return external_id


def _gather(session: Any, project: ProjectRow) -> list[tuple[int, Any, Any, str, dt.datetime]]:
    """(item id, given, right label, kind, time) per disagreement, deduplicated (rule 2)."""
    found: list[tuple[int, Any, Any, str, dt.datetime]] = []
    for row in session.execute(
        select(
            LabelSuspectRow.item_id,
            LabelSuspectRow.given_label,
            LabelSuspectRow.corrected_label,
            LabelSuspectRow.resolved_at,
        ).where(LabelSuspectRow.project_id == project.id, LabelSuspectRow.status == "confirmed")
    ):
        found.append((row.item_id, row.given_label, row.corrected_label, "confirmed", row[3]))
    for row in session.execute(
        select(
            ReviewRow.item_id, AnnotationRow.label, ReviewRow.corrected_label, ReviewRow.created_at
        )
        .join(AnnotationRow, AnnotationRow.id == ReviewRow.annotation_id)
        .where(ReviewRow.project_id == project.id, ReviewRow.verdict == "correct")
        .order_by(ReviewRow.id)
    ):
        found.append((row.item_id, row.label, row.corrected_label, "correction", row.created_at))
    votes: dict[int, dict[str, tuple[Any, dt.datetime]]] = defaultdict(dict)
    for row in session.execute(
        select(
            AnnotationRow.item_id,
            AnnotationRow.actor,
            AnnotationRow.label,
            AnnotationRow.created_at,
        )
        .where(
            AnnotationRow.project_id == project.id,
            AnnotationRow.source.in_(("human", "model")),
            AnnotationRow.status.in_(("active", "rejected")),
        )
        .order_by(AnnotationRow.id)
    ):
        votes[row.item_id][row.actor] = (row.label, row.created_at)
    split = {i: v for i, v in votes.items() if len({label_key(x) for x, _ in v.values()}) > 1}
    finals = (
        dict(
            session.execute(
                select(ItemRow.id, ItemRow.final_label).where(ItemRow.id.in_(list(split)))
            ).all()
        )
        if split
        else {}
    )
    for item_id, by_actor in split.items():
        final = finals.get(item_id)
        if final is not None:
            for label, at in by_actor.values():
                if label_key(label) != label_key(final):
                    found.append((item_id, label, final, "split", at))
            continue
        tally = Counter(label_key(label) for label, _ in by_actor.values())
        (a, _), (b, _) = tally.most_common(2)
        first, second = sorted((a, b))
        labels = {label_key(label): label for label, _ in by_actor.values()}
        latest = max(at for _, at in by_actor.values())
        found.append((item_id, labels[first], labels[second], "split", latest))
    kept: dict[tuple[int, str, str], tuple[int, Any, Any, str, dt.datetime]] = {}
    for entry in found:
        if label_key(entry[1]) == label_key(entry[2]):  # a correction to the label given
            continue
        kept.setdefault((entry[0], label_key(entry[1]), label_key(entry[2])), entry)
    return list(kept.values())


def _clusters(
    session: Any,
    project: ProjectRow,
    flagged: set[int],
    *,
    n_clusters: int,
    max_items: int,
    min_rate: float,
    min_flagged: int,
    seed: int,
) -> tuple[list[ClusterInfo], dict[int, int], float | None, str | None]:
    """Rule 4: the clusters, each flagged item's cluster, the overall rate, or why none."""
    from labelloop.models.builtin import TASK_TYPES, ItemInput, TextFeaturizer, build_model
    from labelloop.models.spec import check_model_spec

    if project.task_type not in TASK_TYPES:
        return [], {}, None, f"no clusters for {project.task_type} projects"
    chosen = sorted(flagged)[:max_items]
    rest = max_items - len(chosen)
    if rest > 0:
        chosen += list(
            session.execute(
                select(ItemRow.id)
                .where(
                    ItemRow.project_id == project.id,
                    ItemRow.final_label.is_not(None),
                    ItemRow.id.not_in(chosen) if chosen else ItemRow.id > 0,
                )
                .order_by(ItemRow.id.desc())
                .limit(rest)
            ).scalars()
        )
    rows = (
        session.execute(
            select(ItemRow.id, ItemRow.external_id, ItemRow.payload, ItemRow.media_ref)
            .where(ItemRow.id.in_(chosen))
            .order_by(ItemRow.id)
        ).all()
        if chosen
        else []
    )
    if len(rows) < 2:
        return [], {}, None, "too few labelled items to cluster"
    settings = project.settings or {}
    try:
        model = build_model(
            project.task_type,
            labels=project.labels,
            multi_label=project.multi_label,
            spec=check_model_spec(settings.get("model")),
            media_root=settings.get("media_root"),
        )
        inputs = [ItemInput(r.payload or {}, r.media_ref) for r in rows]
        featurizer = model.featurizer.fit(inputs)
        X = featurizer.transform(inputs)
        k = min(n_clusters, max(1, round(math.sqrt(len(rows) / 2))))
        assigned = cluster_rows(X, n_clusters=k, random_state=seed)
    except (LabelloopError, ValueError, OSError) as exc:
        return [], {}, None, f"the items could not be clustered: {exc}"
    marks = np.array([r.id in flagged for r in rows])
    k = int(assigned.max()) + 1
    rates = cluster_error_rates(
        assigned, marks, n_clusters=k, min_rate=min_rate, min_flagged=min_flagged
    )
    terms: list[list[str]] = [[] for _ in range(k)]
    if isinstance(featurizer, TextFeaturizer):
        vocabulary = featurizer.tfidf_.vectorizer_.get_feature_names_out()
        terms = top_terms(X, assigned, list(vocabulary), n_terms=5)
    infos = []
    for c in range(k):
        if not rates.size[c]:
            continue
        members = [rows[i].external_id for i in np.flatnonzero(assigned == c)]
        examples = tuple(members[:_EXAMPLE_IDS])
        what = ", ".join(terms[c]) if terms[c] else "items " + ", ".join(examples)
        infos.append(
            ClusterInfo(
                index=c + 1,
                size=int(rates.size[c]),
                n_flagged=int(rates.flagged[c]),
                rate=round(float(rates.rate[c]), 6),
                terms=tuple(terms[c]),
                example_item_ids=examples,
                mislabelled=bool(rates.mislabelled[c]),
                description=f"cluster {c + 1} ({int(rates.size[c])} items): {what}",
            )
        )
    of_item = {r.id: int(assigned[i]) + 1 for i, r in enumerate(rows) if r.id in flagged}
    return infos, of_item, round(rates.overall_rate, 6), None


def _check_args(n_clusters: Any, max_items: Any, min_rate: Any, min_flagged: Any) -> None:
    for name, value, low in (
        ("n_clusters", n_clusters, 1),
        ("max_items", max_items, 2),
        ("min_flagged", min_flagged, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationError(f"{name} must be a whole number >= {low}", field=name)
    if isinstance(min_rate, bool) or not isinstance(min_rate, int | float):
        raise ValidationError("min_rate must be a number within [0, 1]", field="min_rate")
    if not 0.0 <= float(min_rate) <= 1.0:
        raise ValidationError("min_rate must be a number within [0, 1]", field="min_rate")


def disagreement_report(
    db: Database,
    project: int | str,
    *,
    now: dt.datetime | None = None,
    n_clusters: int = 8,
    max_items: int = 5000,
    min_rate: float = 0.25,
    min_flagged: int = 3,
    seed: int = 0,
) -> DisagreementReport:
    """Disagreements grouped by confusion and by cluster; mislabelled clusters apart.

    Parameters
    ----------
    db : Database
    project : int or str
        Project id or name.
    now : datetime, optional
        The end of "this week" (default: now).
    n_clusters : int, default=8
        At most this many clusters of similar items.
    max_items : int, default=5000
        The clustering sees at most this many items (its cost is bounded by it).
    min_rate, min_flagged
        A cluster with at least ``min_flagged`` items with a disagreement, making at
        least ``min_rate`` of its items, is reported as mislabelled.
    seed : int, default=0
        The clustering's seed: the same data gives the same clusters.

    Returns
    -------
    DisagreementReport
        Groups largest first, each described in words, e.g. "fresh -> rotten: 14 this
        week (3 before), mostly in cluster 3 (40 items): ironic, sarcasm".
    """
    _check_args(n_clusters, max_items, min_rate, min_flagged)
    now = utcnow() if now is None else now
    since = now - WEEK
    with db.read() as session:
        row = resolve_project(session, project)
        entries = _gather(session, row)
        flagged = {entry[0] for entry in entries}
        clusters, of_item, overall, note = _clusters(
            session,
            row,
            flagged,
            n_clusters=n_clusters,
            max_items=max_items,
            min_rate=float(min_rate),
            min_flagged=min_flagged,
            seed=seed,
        )
        items = (
            dict(
                (r.id, (r.external_id, r.payload))
                for r in session.execute(
                    select(ItemRow.id, ItemRow.external_id, ItemRow.payload).where(
                        ItemRow.id.in_(sorted(flagged))
                    )
                )
            )
            if flagged
            else {}
        )
        project_id = row.id
    entries.sort(key=lambda e: e[4], reverse=True)
    recent = [e[4] >= since for e in entries]
    confusions = confusion_counts(
        [label_key(e[1]) for e in entries], [label_key(e[2]) for e in entries], recent
    )
    by_index = {c.index: c for c in clusters}
    groups = []
    for confusion in confusions:
        members = [entries[i] for i in confusion.rows]
        shown = tuple(
            DisagreementItem(
                item_id=e[0],
                item_external_id=items[e[0]][0],
                snippet=_snippet(items[e[0]][1], items[e[0]][0]),
                given=e[1],
                correct=e[2],
                kind=e[3],
                at=e[4],
                cluster=of_item.get(e[0]),
            )
            for e in members[:_ITEMS_PER_GROUP]
        )
        placed = Counter(of_item[e[0]] for e in members if e[0] in of_item)
        cluster = share = None
        if placed:
            cluster, n = placed.most_common(1)[0]
            share = round(n / len(members), 6)
        given, correct = members[0][1], members[0][2]
        words = (
            f"{_text(given)} -> {_text(correct)}: {confusion.n_recent} this week"
            f" ({confusion.n_before} before)"
        )
        if cluster is not None and share is not None and share >= 0.5:
            words += f", mostly in {by_index[cluster].description}"
        elif placed:
            words += f", spread over {len(placed)} clusters"
        groups.append(
            ConfusionGroup(
                given=given,
                correct=correct,
                n_this_week=confusion.n_recent,
                n_before=confusion.n_before,
                kinds=dict(Counter(e[3] for e in members)),
                cluster=cluster,
                cluster_share=share,
                description=words,
                items=shown,
            )
        )
    return DisagreementReport(
        project_id=project_id,
        now=now,
        since=since,
        n_disagreements=len(entries),
        n_this_week=sum(recent),
        groups=tuple(groups),
        clusters=tuple(clusters),
        mislabelled_clusters=tuple(c for c in clusters if c.mislabelled),
        overall_rate=overall,
        clusters_note=note,
    )
