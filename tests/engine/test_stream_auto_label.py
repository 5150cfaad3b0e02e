"""Stream mode's third decision: auto-label on arrival when the certificate allows it."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from test_auto_labels import ACTOR, AUTO, NEGATIVE, POSITIVE, auto_labelled, make_project

from labelloop.engine import stream
from labelloop.engine.audit import verify_chain
from labelloop.engine.core.auto_labels import certified_cut
from labelloop.engine.core.priority import ranking_model
from labelloop.engine.projects import update_settings
from labelloop.engine.rounds import train
from labelloop.store.tables import AuditEventRow, ItemRow, PredictionRow, ProjectRow, TaskRow


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _arrivals(n: int, *, sure: bool = True) -> list[dict]:
    """Reviews made of sure words (the model is confident), or of none it knows."""
    rng = random.Random(5)
    found = []
    for i in range(n):
        words = rng.choices(POSITIVE if i % 2 == 0 else NEGATIVE, k=6) if sure else ["zzq"]
        found.append({"id": f"a{i}", "text": " ".join([*words, f"new{i}"])})
    return found


def _cut(db, project: str):
    with db.read() as session:
        row = session.execute(select(ProjectRow).where(ProjectRow.name == project)).scalar_one()
        return certified_cut(session, row, ranking_model(session, row.id)[0])


def test_a_sure_arrival_is_auto_labelled_through_the_rounds_path(db):
    project = make_project(db, **{**AUTO, "stream_explore": 0.0, "eval_share": 0.4})
    info = train(db, actor=ACTOR, project=project)
    threshold = info.metrics["auto_label"]["threshold"]
    assert threshold is not None
    cut = _cut(db, project)
    before = len(auto_labelled(db))
    offers = [
        stream.offer_item(db, project=project, record=r, actor="model:feed") for r in _arrivals(20)
    ]
    auto = [o for o in offers if o.decision == "auto-label"]
    assert auto, [o.reason for o in offers]
    rows = {item.external_id: (row, item, ann) for row, item, ann in auto_labelled(db)[before:]}
    assert set(rows) == {o.item_id for o in auto}
    for offer in auto:
        row, item, annotation = rows[offer.item_id]
        assert offer.label == item.final_label == annotation.label
        assert annotation.source == "model" and annotation.actor == "model:v1"
        assert row.round_number == cut.round_number and row.threshold == pytest.approx(threshold)
        assert row.confidence >= threshold
        assert f"{threshold:.3f}" in offer.reason and "round 1" in offer.reason
        assert item.status == "annotated" and item.label_source == "model"
        with db.read() as session:
            task = session.execute(select(TaskRow).where(TaskRow.item_id == item.id)).scalar_one()
        assert task.status == ("open" if row.spot_check else "done")
    # auto-labels spend no budget: the asks are the other decisions alone
    assert offers[-1].asked == sum(o.decision == "ask" for o in offers)
    assert offers[-1].arrivals == 20
    with db.read() as session:
        events = (
            session.execute(
                select(AuditEventRow.after)
                .where(AuditEventRow.action == "stream.decided")
                .order_by(AuditEventRow.id)
            )
            .scalars()
            .all()
        )
    assert [e["decision"] for e in events] == [o.decision for o in offers]
    assert all(e["label"] == o.label for e, o in zip(events, offers, strict=True) if o.label)
    assert verify_chain(db, project).ok


def test_auto_labelled_exactly_when_the_top_class_clears_the_threshold_and_on(db):
    project = make_project(db, **{**AUTO, "stream_explore": 0.0})
    info = train(db, actor=ACTOR, project=project)
    threshold = info.metrics["auto_label"]["threshold"]
    assert threshold is not None
    mixed = [
        dict(r, text=r["text"] + (" good bad awful great" * (i % 3)))
        for i, r in enumerate(_arrivals(12))
    ]
    offers = [stream.offer_item(db, project=project, record=r, actor="x") for r in mixed]
    with db.read() as session:
        proba = dict(
            session.execute(
                select(ItemRow.external_id, PredictionRow.probabilities).join(
                    PredictionRow, PredictionRow.item_id == ItemRow.id
                )
            ).all()
        )
    for offer in offers:
        sure = max(proba[offer.item_id].values()) >= threshold
        if sure and offer.decision != "auto-label":  # drawn for the evaluation set
            assert offer.decision == "ask" and offer.is_eval, offer
        else:
            assert (offer.decision == "auto-label") == sure, (offer, proba[offer.item_id])
    # auto-labelling turned off: sure arrivals are asked or parked
    update_settings(db, actor=ACTOR, project=project, changes={"auto_label": False})
    off = [
        stream.offer_item(db, project=project, record=dict(r, id=f"off-{r['id']}",
                          text=r["text"] + " off"), actor="x")
        for r in _arrivals(6)
    ]  # fmt: skip
    assert {o.decision for o in off} <= {"ask", "park"}
    assert all(o.label is None for o in off)


def test_no_auto_label_without_a_certificate(db):
    # 0.999 precision cannot be certified on this evaluation set
    project = make_project(db, **{**AUTO, "auto_label_precision": 0.999, "stream_explore": 0.0})
    info = train(db, actor=ACTOR, project=project)
    assert info.metrics["auto_label"]["threshold"] is None
    assert _cut(db, project) is None
    offers = [stream.offer_item(db, project=project, record=r, actor="x") for r in _arrivals(6)]
    assert {o.decision for o in offers} <= {"ask", "park"}
    with db.read() as session:
        assert (
            session.execute(select(ItemRow).where(ItemRow.label_source == "model")).first() is None
        )
