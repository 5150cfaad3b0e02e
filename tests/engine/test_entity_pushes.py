"""A client model of an entity (``ner``) project pushes spans with scores, on SQLite and
PostgreSQL: checked against each item's text, all or nothing, stored as the prediction's
structure, the queue placed by the informativeness given or derived from the spans."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from labelloop.engine.browse.items import model_guess
from labelloop.engine.ingest import import_items
from labelloop.engine.predictions import push_predictions
from labelloop.engine.predictions.push import NO_SPANS_INFORMATIVENESS
from labelloop.engine.projects import create_project
from labelloop.exceptions import ValidationError
from labelloop.store.tables import ItemRow, PredictionRow, TaskRow

TEXTS = {"a": "Ann Lee flew to New York", "b": "Bob stayed in Oslo", "c": "nothing here"}


def _project(db):
    project = create_project(
        db, actor="cli:test", name="tweets", task_type="ner", labels=["PER", "LOC"],
        settings={"eval_share": 0, "eval_min": 0, "batch_size": 1},
    ).id  # fmt: skip
    import_items(db, actor="cli:test", project=project,
                 records=[{"id": key, "text": text} for key, text in TEXTS.items()])  # fmt: skip
    return project


def _stored(db):
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, PredictionRow.score, PredictionRow.structure,
                   PredictionRow.probabilities, TaskRow.priority)
            .join(PredictionRow, PredictionRow.item_id == ItemRow.id)
            .join(TaskRow, TaskRow.item_id == ItemRow.id)
            .where(TaskRow.queue == "label")
        ).all()  # fmt: skip
    return {row.external_id: row for row in rows}


def test_spans_are_stored_and_rank_the_queue(database):
    project = _project(database)
    report = push_predictions(
        database, project_id=project, actor="model:tagger", model_version="tagger-1",
        predictions=[
            {"item_id": "a", "spans": [{"start": 16, "end": 24, "label": "LOC", "score": 0.9},
                                       {"start": 0, "end": 7, "label": "PER", "score": 0.6}]},
            {"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER", "score": 0.99}],
             "score": 2.5},
            {"item_id": "c", "spans": []},
        ],
    )  # fmt: skip
    assert report.n_predictions == 3 and report.batch == ("b",)
    stored = _stored(database)
    assert stored["a"].structure == [
        {"start": 0, "end": 7, "label": "PER", "score": 0.6},
        {"start": 16, "end": 24, "label": "LOC", "score": 0.9},
    ]
    assert stored["a"].probabilities == {}
    assert stored["a"].score == pytest.approx(0.4)  # 1 - its least confident span
    assert stored["b"].score == 2.5  # the score given
    assert stored["c"].score == NO_SPANS_INFORMATIVENESS and stored["c"].structure == []
    assert stored["b"].priority > stored["c"].priority > stored["a"].priority
    with database.read() as session:
        item_a = session.execute(select(ItemRow.id).where(ItemRow.external_id == "a")).scalar()
    guess = model_guess(database, project_id=project, item_id=item_a)
    assert guess.structure == stored["a"].structure and guess.label is None


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"item_id": "b", "spans": [{"start": 14, "end": 30, "label": "LOC", "score": 0.5}]},
         "predictions.1.spans.0"),
        ({"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "ORG", "score": 0.5}]},
         "predictions.1.spans.0.label"),
        ({"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER", "score": 1.5}]},
         "predictions.1.spans.0.score"),
        ({"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER"}]},
         "predictions.1.spans.0.score"),
        ({"item_id": "b", "spans": [{"start": 0, "end": 3, "label": "PER", "score": 0.5},
                                    {"start": 2, "end": 6, "label": "LOC", "score": 0.5}]},
         "predictions.1.spans.1"),
        ({"item_id": "b", "spans": [], "score": -1}, "predictions.1.score"),
        ({"item_id": "b"}, "predictions.1.spans"),
        ({"item_id": "b", "probabilities": {"PER": 1.0}, "spans": []},
         "predictions.1.probabilities"),
    ],
)  # fmt: skip
def test_a_bad_span_refuses_the_whole_push_naming_item_and_field(database, entry, field):
    project = _project(database)
    good = {"item_id": "a", "spans": [{"start": 0, "end": 7, "label": "PER", "score": 0.8}]}
    with pytest.raises(ValidationError) as raised:
        push_predictions(database, project_id=project, actor="model:tagger",
                         model_version="tagger-1", predictions=[good, entry])  # fmt: skip
    assert raised.value.field == field
    if field.startswith("predictions.1.spans.") and not field.endswith("score"):
        assert "'b'" in str(raised.value)  # the item is named
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(PredictionRow)).scalar() == 0
