"""Consensus by Dawid-Skene: the final label of overlapping items, a reviewer still wins."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import select

from labelloop.engine import review
from labelloop.engine.agreement import agreement_report
from labelloop.engine.annotate import record_annotation
from labelloop.engine.consensus import fit_annotators
from labelloop.engine.core.consensus import ConsensusFit, consensus_winner, fit_consensus
from labelloop.engine.core.labels import decide_label
from labelloop.engine.projects import update_settings
from labelloop.exceptions import ValidationError
from labelloop.store.tables import AuditEventRow, ConsensusFitRow, ItemRow

N_THREE = 30  # items labelled by all three annotators
N_TWO = 8  # items labelled by "sure" and "sloppy" only


def _truth(i: int) -> str:
    return "pos" if i % 2 == 0 else "neg"


def _other(label: str) -> str:
    return "neg" if label == "pos" else "pos"


def _label_overlapping_items(db, **settings) -> int:
    """``sure`` and ``steady`` are always right; ``sloppy`` is wrong on every other item."""
    project = make_project(db, settings={"overlap": 3, "eval_share": 0, **settings})
    add_items(db, project, N_THREE, overlap=3)
    add_items(db, project, N_TWO, overlap=2, prefix="two")
    for i in range(N_THREE):
        record_annotation(db, actor="sure", project=project, external_id=f"it{i}", label=_truth(i))
        record_annotation(db, actor="steady", project=project, external_id=f"it{i}",
                          label=_truth(i))  # fmt: skip
        wrong = i % 4 in (1, 2)
        record_annotation(db, actor="sloppy", project=project, external_id=f"it{i}",
                          label=_other(_truth(i)) if wrong else _truth(i))  # fmt: skip
    for i in range(N_TWO):
        record_annotation(db, actor="sure", project=project, external_id=f"two{i}",
                          label=_truth(i))  # fmt: skip
        record_annotation(db, actor="sloppy", project=project, external_id=f"two{i}",
                          label=_other(_truth(i)))  # fmt: skip
    return project


def _items(db, prefix: str) -> dict[str, ItemRow]:
    with db.read() as session:
        rows = session.execute(select(ItemRow).where(ItemRow.external_id.like(f"{prefix}%")))
        return {row.external_id: row for row in rows.scalars()}


def test_dawid_skene_settles_the_ties_majority_vote_sends_to_review(database):
    project = _label_overlapping_items(database)
    for item in _items(database, "two").values():
        assert item.status == "in_review" and item.final_label is None  # a 1-1 tie

    update_settings(database, actor="cli:test", project=project,
                    changes={"consensus": "dawid_skene"})  # fmt: skip
    two = _items(database, "two")
    assert {i: (row.status, row.final_label) for i, row in two.items()} == {
        f"two{i}": ("annotated", _truth(i)) for i in range(N_TWO)
    }
    # Items all three labelled keep the majority's label: "sure" and "steady" agree.
    three = _items(database, "it")
    assert all(three[f"it{i}"].final_label == _truth(i) for i in range(N_THREE))

    report = agreement_report(database, project)
    accuracy = {a["name"]: a["estimated_accuracy"] for a in report["annotators"]}
    assert accuracy["sure"] > 0.9 and accuracy["steady"] > 0.9
    assert accuracy["sloppy"] < 0.6
    with database.read() as session:
        assert session.execute(select(ConsensusFitRow.n_items)).scalars().all() == [N_THREE + N_TWO]
        actions = session.execute(select(AuditEventRow.action)).scalars().all()
    assert "consensus.fitted" in actions

    # Back to majority vote: the ties go to review again.
    update_settings(database, actor="cli:test", project=project, changes={"consensus": "majority"})
    assert {row.status for row in _items(database, "two").values()} == {"in_review"}


def test_a_reviewers_correction_still_wins_over_dawid_skene(database):
    project = _label_overlapping_items(database)
    rev = make_user(database, "rev", role="reviewer")
    leased = review.lease_next_review(database, project_id=project, user=rev)
    external_id = leased.item.external_id
    # The reviewer sides with "sloppy": Dawid-Skene would say otherwise.
    sloppy = _other(_truth(int(external_id.removeprefix("two"))))
    review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="correct", label=sloppy
    )
    info = fit_annotators(database, project=project, actor="cli:test")
    update_settings(database, actor="cli:test", project=project,
                    changes={"consensus": "dawid_skene"})  # fmt: skip
    again = fit_annotators(database, project=project, actor="cli:test")
    assert info.fitted and again.fitted and again.method == "dawid_skene"
    item = _items(database, "two")[external_id]
    assert (item.status, item.final_label, item.label_source) == ("accepted", sloppy, "review")


def test_a_newcomer_is_counted_by_majority_until_the_next_fit(database):
    project = _label_overlapping_items(database, consensus="dawid_skene")
    fit_annotators(database, project=project, actor="cli:test")
    add_items(database, project, 1, overlap=2, prefix="new")
    record_annotation(database, actor="sure", project=project, external_id="new0", label="pos")
    record_annotation(database, actor="newcomer", project=project, external_id="new0",
                      label="neg")  # fmt: skip
    assert _items(database, "new")["new0"].status == "in_review"  # unknown voter: a tie
    info = fit_annotators(database, project=project, actor="cli:test")
    assert "newcomer" in info.accuracy
    assert _items(database, "new")["new0"].status == "annotated"


def test_nothing_to_fit_is_said_not_raised(sqlite_db):
    project = make_project(sqlite_db, settings={"consensus": "dawid_skene"})
    info = fit_annotators(sqlite_db, project=project, actor="cli:test")
    assert not info.fitted and info.accuracy == {}
    with pytest.raises(ValidationError) as refused:
        update_settings(sqlite_db, actor="cli:test", project=project,
                        changes={"consensus": "weighted"})  # fmt: skip
    assert refused.value.field == "consensus"


def test_the_item_rule_by_hand():
    # prior 1/2 each; P(b | good votes b, poor votes a) = .5*.1*.6 vs .5*.9*.4 -> b wins.
    fit = ConsensusFit(
        classes=['"a"', '"b"'],
        prior=[0.5, 0.5],
        annotators={
            "good": {"confusion": [[0.9, 0.1], [0.1, 0.9]], "accuracy": 0.9},
            "poor": {"confusion": [[0.6, 0.4], [0.4, 0.6]], "accuracy": 0.6},
        },
        n_items=2,
    )
    assert consensus_winner(fit, [("good", "b"), ("poor", "a")]) == ("b", True)
    assert consensus_winner(fit, [("good", "b"), ("good2", "a")]) is None
    twins = ConsensusFit(fit.classes, fit.prior, {"x": fit.annotators["good"],
                                                  "y": fit.annotators["good"]}, 2)  # fmt: skip
    assert consensus_winner(twins, [("x", "a"), ("y", "b")]) == ("a", False)
    decision = decide_label(["a", "b"], complete=True, consensus=("b", True))
    assert (decision.status, decision.final_label) == ("annotated", "b")
    assert fit_consensus({1: {"x": '"a"'}}) is None
