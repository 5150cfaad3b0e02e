"""Stream mode for entity projects: the latest CRF's sentence score decides ask or park
under the same budget rules; box projects stay refused."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from labelloop.engine import rounds, stream
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.store.tables import ItemRow, PredictionRow

NAMES = ["Anna", "Bob", "Carl", "Dora", "Emil", "Fay", "Gus", "Hana"]
PLACES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Pune"]


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _sentence(i: int) -> tuple[str, list[dict]]:
    name, place = NAMES[i % len(NAMES)], PLACES[i % len(PLACES)]
    text = f"{name} flew to {place} on day {i}"
    start = len(name) + len(" flew to ")
    return text, [
        {"start": 0, "end": len(name), "label": "PER"},
        {"start": start, "end": start + len(place), "label": "LOC"},
    ]


def _entity_project(db) -> int:
    project = create_project(
        db,
        actor="cli:test",
        name="trips",
        task_type="ner",
        labels=["PER", "LOC"],
        settings={"retrain_every": 0, "eval_min_labels": 0, "eval_share": 0, "eval_min": 0},
    ).id
    records = []
    for i in range(24):
        text, spans = _sentence(i)
        records.append({"id": f"t{i}", "text": text, "spans": spans})
    import_items(db, actor="cli:test", project=project, records=records)
    return project


def test_entity_arrivals_are_decided_by_the_crf_sentence_score(db):
    project = _entity_project(db)
    trained = rounds.train(db, actor="cli:lead", project=project)
    arrivals = [
        {"id": f"s{i}", "text": text}
        for i, text in enumerate(
            [_sentence(100 + i)[0] for i in range(20)] + [f"zzz qqq {i} xx" for i in range(10)]
        )
    ]
    offers = [
        stream.offer_item(db, project=project, record=r, actor="model:feed") for r in arrivals
    ]
    for t, offer in enumerate(offers, start=1):
        assert offer.model_version == trained.model_version
        assert offer.informativeness is not None and offer.reason
        assert offer.asked <= math.floor(0.1 * t + 1e-9) + 1
        assert offer.decision in ("ask", "park")
    assert any(o.decision == "ask" for o in offers)
    with db.read() as session:
        rows = dict(
            session.execute(
                select(ItemRow.external_id, PredictionRow.structure)
                .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                .where(ItemRow.external_id.like("s%"))
            ).all()
        )
    assert len(rows) == 30
    # The CRF's spans are kept as the prediction's structure, as a round keeps them.
    name = _sentence(100)[0].split()[0]
    assert {"start": 0, "end": len(name), "label": "PER"} in [
        {k: s[k] for k in ("start", "end", "label")} for s in rows["s0"]
    ]
    status = stream.stream_status(db, project=project)
    assert status.arrivals == 30


def test_entity_offers_before_a_model_and_refusals(db):
    project = _entity_project(db)
    first = stream.offer_item(db, project=project, record={"id": "n0", "text": "hello"}, actor="x")
    assert first.informativeness is None and first.model_version is None
    with pytest.raises(ImportDataError) as spans:
        stream.offer_item(
            db,
            project=project,
            record={"id": "n1", "text": "Anna", "spans": [{"start": 0, "end": 4, "label": "PER"}]},
            actor="x",
        )
    assert spans.value.field == "spans"
    create_project(db, actor="x", name="pets", task_type="boxes", labels=["cat"])
    with pytest.raises(ValidationError) as boxes:
        stream.offer_item(db, project="pets", record={"id": "i"}, actor="x")
    assert boxes.value.field == "task_type" and "no box model" in str(boxes.value)
    assert stream.stream_status(db, project=project).arrivals == 1
