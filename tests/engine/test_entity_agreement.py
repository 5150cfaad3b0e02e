"""Agreement between annotators of an entity (``ner``) project is span-level F1, on SQLite
and PostgreSQL: exact matches on (start, end, label), micro-averaged over shared items."""

from __future__ import annotations

import pytest
from _service_setup import make_user

from labelloop.engine import annotate, queue
from labelloop.engine.agreement import agreement_report, span_agreement
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project

TEXTS = {
    "a": "Ann Lee flew to New York",  # PER 0-7, LOC 16-24
    "b": "Bob stayed in Oslo",  # PER 0-3, LOC 14-18
    "c": "nothing to see",
}
PER_A, LOC_A = {"start": 0, "end": 7, "label": "PER"}, {"start": 16, "end": 24, "label": "LOC"}
PER_B, LOC_B = {"start": 0, "end": 3, "label": "PER"}, {"start": 14, "end": 18, "label": "LOC"}
# Each annotator's spans, item by item.
GIVEN = {
    "ann": {"a": [PER_A, LOC_A], "b": [PER_B, LOC_B], "c": []},
    "bea": {"a": [PER_A], "b": [PER_B, {**LOC_B, "label": "PER"}], "c": []},
    "cy": {"a": [PER_A, LOC_A], "b": [PER_B, LOC_B], "c": []},
}


def test_span_agreement_by_hand():
    one = frozenset({(0, 7, "PER"), (16, 24, "LOC")})
    assert span_agreement([(one, one)]) == 1.0
    assert span_agreement([(one, frozenset({(0, 7, "PER")}))]) == pytest.approx(2 / 3)
    assert span_agreement([(frozenset(), frozenset())]) == 1.0
    assert span_agreement([(one, frozenset())]) == 0.0


def test_annotators_of_an_entity_project_agree_by_span_f1(database):
    project = create_project(
        database, actor="cli:test", name="tweets", task_type="ner", labels=["PER", "LOC"],
        settings={"overlap": 3, "eval_share": 0, "eval_min": 0, "eval_min_labels": 0},
    ).id  # fmt: skip
    import_items(database, actor="cli:test", project=project,
                 records=[{"id": key, "text": text} for key, text in TEXTS.items()])  # fmt: skip
    for name, spans in GIVEN.items():
        user = make_user(database, name)
        for _ in spans:
            task = queue.lease_next_task(database, project_id=project, user=user)
            label = spans[task.item.external_id]
            annotate.submit_annotation(database, task_id=task.id, user=user, label=label)

    report = agreement_report(database, project)
    assert report["measure"] == "span_f1" and report["n_items_shared"] == 3
    assert report["krippendorff_alpha"] is None
    pairs = {tuple(p["annotators"]): p for p in report["pairs"]}
    # ann-bea: item a matches 1 of 2 + 1, item b 1 of 2 + 2, item c nothing: 2*2 / (4+3) = 4/7
    assert pairs[("ann", "bea")]["span_f1"] == pytest.approx(4 / 7, abs=1e-6)
    assert pairs[("ann", "bea")]["kappa"] is None
    assert pairs[("ann", "cy")]["span_f1"] == 1.0
    # identical span sets: ann-cy on all 3 items, ann-bea and bea-cy only on item c
    assert pairs[("ann", "cy")]["percent_agreement"] == 1.0
    assert pairs[("ann", "bea")]["percent_agreement"] == pytest.approx(1 / 3, abs=1e-6)
    # every pair of every item: matched 2+2+4 = 8 ... of marked 7+7+8 = 22 -> 2*8/22
    assert report["span_f1"] == pytest.approx(16 / 22, abs=1e-6)
    by_name = {a["name"]: a for a in report["annotators"]}
    assert by_name["cy"]["mean_span_f1"] == pytest.approx((1.0 + 4 / 7) / 2, abs=1e-6)
    assert by_name["ann"]["mean_kappa"] is None and by_name["ann"]["estimated_accuracy"] is None
