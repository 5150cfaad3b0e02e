"""Inter-annotator agreement and agreement with reviewers, per project and per annotator.

- Cohen's kappa for every pair of annotators over the items both labelled:
  ``(p_o - p_e) / (1 - p_e)``, with ``p_e`` from each annotator's own label frequencies
  on those items (None when both always gave the one same label: it is undefined).
- Krippendorff's alpha (nominal) over every item with two or more annotations, reported
  when some item has more than two (overlap > 2), from the coincidence matrix:
  ``alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k``.
- Agreement with reviewers: of an annotator's reviewed annotations, the share the
  reviewer accepted (rather than corrected or rejected).
- Estimated accuracy: each annotator's accuracy by a Dawid-Skene fit of the items with
  two or more annotators, made now (`labelloop.engine.core.consensus.fit_consensus`);
  None where there is nothing to fit or the annotator labelled no such item.

- Box projects: IoU-matched box F1 for every pair and over the project. Two boxes match
  when their IoU is at least 0.5 and their labels are equal, paired one to one by the
  Hungarian method (`labelloop.boxes.match_boxes`); a pair's ``box_f1`` is
  ``2 m / (boxes of one + boxes of the other)`` pooled over the images both labelled
  (1.0 when both drew nothing on all of them), and each annotator's ``mean_box_f1`` is
  weighted by shared images. Kappa and percent agreement there compare whole box lists
  and say little; the box F1 is the measure to read.
- Entity (``ner``) projects: span-level F1 between annotators instead of kappa. Two
  annotators' spans match when start, end and label are all equal; a pair's F1 over the
  items both labelled is ``2 * matched / (spans of one + spans of the other)`` (summed
  over the items: micro-averaged, symmetric), and 1.0 when neither marked any span (they
  agree there is nothing). The project's ``span_f1`` is the same over every pair of every
  shared item, each annotator's ``mean_span_f1`` the pairs' F1 weighted by shared items.
  ``percent_agreement`` is the share of pairs whose span sets are identical; kappa,
  Krippendorff's alpha and the Dawid-Skene accuracy do not apply (None): every distinct
  span set would be a category of its own.

Annotations that count: by humans and models, active or rejected (a rejection is a
reviewer's judgement, the annotator's label still tells about agreement); undone ones,
imports and reviewer corrections do not. A multi-label set counts as one category.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from labelloop.boxes import match_boxes
from labelloop.engine.core.consensus import fit_consensus
from labelloop.engine.core.labels import label_key
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import project_setting
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ReviewRow

__all__ = [
    "BOX_IOU",
    "agreement_report",
    "box_agreement",
    "cohen_kappa",
    "krippendorff_alpha_nominal",
    "span_agreement",
]

BOX_IOU = 0.5
Spans = frozenset[tuple[int, int, str]]


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items (None when undefined).

    Parameters
    ----------
    a, b : sequence of hashable, same length
        The labels each rater gave, item by item.
    """
    if len(a) != len(b):
        raise ValueError(f"a and b must have the same length, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    freq_a, freq_b = Counter(a), Counter(b)
    expected = sum(freq_a[c] * freq_b[c] for c in freq_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Any]]) -> float | None:
    """Krippendorff's alpha for nominal data (None when there is no variation to judge).

    Parameters
    ----------
    units : sequence of sequences of hashable
        For each item, the labels its raters gave; items with fewer than two are ignored.
    """
    coincidence: Counter[tuple[Any, Any]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            coincidence[(values[i], values[j])] += 1.0 / (m - 1)
    totals: Counter[Any] = Counter()
    for (c, _k), weight in coincidence.items():
        totals[c] += weight
    n = sum(totals.values())
    if n <= 1:
        return None
    disagree = sum(w for (c, k), w in coincidence.items() if c != k)
    spread = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if spread == 0:
        return None
    return 1.0 - (n - 1) * disagree / spread


def span_agreement(pairs: Sequence[tuple[Spans, Spans]]) -> float:
    """Span-level F1 between two annotators over the items both labelled (exact match).

    Parameters
    ----------
    pairs : sequence of (set, set)
        For each shared item, each annotator's spans as ``(start, end, label)`` tuples.

    Examples
    --------
    >>> span_agreement([(frozenset({(0, 3, "PER"), (7, 11, "LOC")}), frozenset({(0, 3, "PER")}))])
    0.6666666666666666
    >>> span_agreement([(frozenset(), frozenset())])
    1.0
    """
    matched, marked = _span_counts(pairs)
    return 2 * matched / marked if marked else 1.0


def _span_counts(pairs: Sequence[tuple[Spans, Spans]]) -> tuple[int, int]:
    """Matching spans and spans marked by either annotator, summed over ``pairs``."""
    matched = sum(len(a & b) for a, b in pairs)
    marked = sum(len(a) + len(b) for a, b in pairs)
    return matched, marked


def _spans_of(label: Any) -> Spans:
    return frozenset((s["start"], s["end"], s["label"]) for s in label or ())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _pairs(by_item: Mapping[int, dict[str, Any]], *, entities: bool) -> list[dict[str, Any]]:
    shared: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
    for votes in by_item.values():
        for a, b in itertools.combinations(sorted(votes), 2):
            shared[(a, b)].append((votes[a], votes[b]))
    pairs = []
    for (a, b), rows in sorted(shared.items()):
        left = [x for x, _ in rows]
        right = [y for _, y in rows]
        pairs.append(
            {
                "annotators": [a, b],
                "n_items": len(rows),
                "kappa": None if entities else _rounded(cohen_kappa(left, right)),
                "percent_agreement": _rounded(sum(x == y for x, y in rows) / len(rows)),
                "span_f1": _rounded(span_agreement(rows)) if entities else None,
            }
        )
    return pairs


def box_agreement(
    by_item: Mapping[int, Mapping[str, Sequence[Any]]], *, threshold: float = BOX_IOU
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Per annotator pair, ``(images, matched boxes, boxes of both)`` over shared images.

    Examples
    --------
    >>> cat = {"bbox": [0, 0, 10, 10], "label": "cat"}
    >>> box_agreement({1: {"a": [cat], "b": [cat, {"bbox": [20, 20, 30, 30], "label": "cat"}]}})
    {('a', 'b'): (1, 1, 3)}
    """
    tally: dict[tuple[str, str], tuple[int, int, int]] = {}
    for votes in by_item.values():
        for a, b in itertools.combinations(sorted(votes), 2):
            left, right = votes[a] or [], votes[b] or []
            matched = len(match_boxes(left, right, threshold=threshold))
            n, m, total = tally.get((a, b), (0, 0, 0))
            tally[(a, b)] = (n + 1, m + matched, total + len(left) + len(right))
    return tally


def _f1(matched: int, total: int) -> float:
    return 1.0 if total == 0 else 2 * matched / total


def _weighted(pairs: list[dict[str, Any]], name: str, key: str) -> float | None:
    """The mean of ``name``'s pairs' ``key``, weighted by the items each pair shares."""
    weighted = [
        (p[key], p["n_items"]) for p in pairs if name in p["annotators"] and p[key] is not None
    ]
    weight = sum(n for _, n in weighted)
    return _rounded(sum(v * n for v, n in weighted) / weight) if weight else None


def agreement_report(db: Database, project_id: int | str) -> dict[str, Any]:
    """Agreement between annotators and with reviewers, for the project and per annotator.

    Returns
    -------
    dict
        ``project_id``; ``consensus`` (the project's setting); ``n_items_shared``
        (items with two or more annotators);
        ``percent_agreement`` (share of agreeing annotator pairs on those items);
        ``krippendorff_alpha`` (None unless some item has more than two annotators);
        ``pairs`` (per pair: ``annotators``, ``n_items``, ``kappa``,
        ``percent_agreement``, ``span_f1``); ``annotators`` (per annotator: ``name``,
        ``n_annotations``, ``mean_kappa`` weighted by shared items, ``mean_span_f1``
        likewise, ``reviewed``, ``accepted``, ``corrected``, ``rejected``,
        ``review_agreement``, ``estimated_accuracy`` by Dawid-Skene);
        ``reviews`` (the same review counts for the whole project); ``measure``
        (``kappa``, ``span_f1`` for an entity project, ``box_f1`` for a box project) and
        ``span_f1`` (an entity project's span-level F1 over every shared pair, else
        None). A box project adds ``box_f1`` and ``iou_threshold`` to the report,
        ``box_f1`` to each pair and ``mean_box_f1`` to each annotator.
    """
    with db.read() as session:
        project = resolve_project(session, project_id)
        consensus = str(project_setting(project, "consensus"))
        boxed = project.task_type == "boxes"
        entities = project.task_type == "ner"
        rows = session.execute(
            select(
                AnnotationRow.id, AnnotationRow.item_id, AnnotationRow.actor, AnnotationRow.label
            )
            .where(
                AnnotationRow.project_id == project.id,
                AnnotationRow.source.in_(("human", "model")),
                AnnotationRow.status.in_(("active", "rejected")),
            )
            .order_by(AnnotationRow.id)
        ).all()
        verdicts = session.execute(
            select(ReviewRow.annotation_id, ReviewRow.verdict).where(
                ReviewRow.project_id == project.id, ReviewRow.annotation_id.is_not(None)
            )
        ).all()

    boxes_by_item: dict[int, dict[str, Any]] = defaultdict(dict)
    if boxed:
        for row in rows:
            boxes_by_item[row.item_id][row.actor] = row.label
    author = {row.id: row.actor for row in rows}
    counts: Counter[str] = Counter(row.actor for row in rows)
    by_item: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in rows:  # in id order: an annotator's latest label on an item stands
        by_item[row.item_id][row.actor] = _spans_of(row.label) if entities else label_key(row.label)
    shared = {item: votes for item, votes in by_item.items() if len(votes) >= 2}

    pairs = _pairs(shared, entities=entities)
    box_tally = box_agreement({i: boxes_by_item[i] for i in shared}) if boxed else {}
    for pair in pairs:
        if boxed:
            _, matched, total = box_tally[tuple(pair["annotators"])]
            pair["box_f1"] = _rounded(_f1(matched, total))
    fit = None if entities else fit_consensus(shared)
    estimated = fit.accuracy() if fit is not None else {}
    agreeing = total = 0
    every_pair: list[tuple[Any, Any]] = []
    for votes in shared.values():
        for a, b in itertools.combinations(votes.values(), 2):
            total += 1
            agreeing += a == b
            every_pair.append((a, b))
    alpha = None
    if not entities and any(len(votes) > 2 for votes in shared.values()):
        alpha = krippendorff_alpha_nominal([list(v.values()) for v in shared.values()])

    reviewed: dict[str, Counter[str]] = defaultdict(Counter)
    for annotation_id, verdict in verdicts:
        if annotation_id in author:
            reviewed[author[annotation_id]][verdict] += 1

    def review_counts(tally: Counter[str]) -> dict[str, Any]:
        n = tally["accept"] + tally["correct"] + tally["reject"]
        return {
            "reviewed": n,
            "accepted": tally["accept"],
            "corrected": tally["correct"],
            "rejected": tally["reject"],
            "review_agreement": _rounded(tally["accept"] / n) if n else None,
        }

    annotators = []
    for name in sorted(counts):
        annotators.append(
            {
                "name": name,
                "n_annotations": counts[name],
                "mean_kappa": _weighted(pairs, name, "kappa"),
                "mean_span_f1": _weighted(pairs, name, "span_f1"),
                **review_counts(reviewed.get(name, Counter())),
                "estimated_accuracy": _rounded(estimated.get(name)),
            }
        )
        if boxed:
            mine = [(p["box_f1"], p["n_items"]) for p in pairs if name in p["annotators"]]
            shared_images = sum(n for _, n in mine)
            annotators[-1]["mean_box_f1"] = (
                _rounded(sum(f * n for f, n in mine) / shared_images) if shared_images else None
            )
    project_reviews = sum(reviewed.values(), Counter())
    extra: dict[str, Any] = {}
    if boxed:
        matched = sum(m for _, m, _ in box_tally.values())
        total_boxes = sum(t for _, _, t in box_tally.values())
        extra = {
            "iou_threshold": BOX_IOU,
            "box_f1": _rounded(_f1(matched, total_boxes)) if box_tally else None,
        }
    return {
        "project_id": project.id,
        "consensus": consensus,
        "n_items_shared": len(shared),
        "percent_agreement": _rounded(agreeing / total) if total else None,
        "krippendorff_alpha": _rounded(alpha),
        "pairs": pairs,
        "annotators": annotators,
        "reviews": review_counts(project_reviews),
        **extra,
        "measure": "span_f1" if entities else "box_f1" if boxed else "kappa",
        "span_f1": _rounded(span_agreement(every_pair)) if entities and every_pair else None,
    }
