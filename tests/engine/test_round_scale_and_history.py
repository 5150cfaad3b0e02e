"""One uncertainty scale for query and status; a batch's predictions stay in history."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_rounds import ACTOR, make_text_project

from labelloop.engine.annotate import record_annotation
from labelloop.engine.browse import item_history
from labelloop.engine.rounds import project_status, query, train
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow


def _pool_predictions(db, version: int) -> dict[str, dict[str, float]]:
    """External id -> probabilities of a model version's pool predictions."""
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, PredictionRow.probabilities)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
            .where(ModelVersionRow.version == version, ItemRow.is_eval.is_(False))
        ).all()
    return {external_id: dict(proba) for external_id, proba in rows}


@pytest.mark.parametrize(
    ("strategy", "measure"),
    [
        ("margin", "margin"),
        ("least_confidence", "least_confidence"),
        ("entropy", "entropy"),
        ("ratio", "ratio"),
        ("auto", "margin"),
    ],
)
def test_status_reports_the_pool_uncertainty_on_the_scale_query_shows(sqlite_db, strategy, measure):
    db = sqlite_db
    project = make_text_project(db, strategy=strategy)
    train(db, actor=ACTOR, project=project)
    rows = query(db, project, 1_000)
    top = max(rows, key=lambda r: r.score)
    last = project_status(db, project).rounds[-1]
    verdict = last.metrics["stopping"]["max_uncertainty"]
    # The most uncertain pool item: status gives the number query shows for it.
    assert verdict["value"] == pytest.approx(top.score, abs=1e-9)
    assert last.metrics["max_uncertainty"] == pytest.approx(top.score, abs=1e-6)
    assert verdict["measure"] == measure
    assert f"scores {top.score:.3f}," in verdict["reason"]
    assert verdict["reason"].endswith(f"({measure.replace('_', ' ')})")
    # Two classes: the threshold restated on the scale stops exactly where least
    # confidence below 0.05 always did.
    least_confidence = max(1 - max(p.values()) for p in _pool_predictions(db, 1).values())
    assert verdict["stop"] is (least_confidence < 0.05)


def test_the_prediction_that_picked_an_item_stays_in_its_history(database, tmp_path):
    db = database
    db.artifact_dir = tmp_path / "artifacts"
    project = make_text_project(db)
    first = train(db, actor=ACTOR, project=project)
    shown = {r.external_id: r.score for r in query(db, project, 10)}
    for external_id in first.batch:
        record_annotation(db, actor=ACTOR, project=project, external_id=external_id, label="pos")
    train(db, actor=ACTOR, project=project)
    train(db, actor=ACTOR, project=project)
    # Model version 1 is two rounds old: only its batch's pool predictions stay.
    assert set(_pool_predictions(db, 1)) == set(first.batch)
    assert len(_pool_predictions(db, 3)) > len(first.batch)
    with db.read() as session:
        ids = dict(session.execute(select(ItemRow.external_id, ItemRow.id)).all())
        project_id = session.execute(select(ItemRow.project_id)).scalars().first()
    for external_id in first.batch:
        history = item_history(db, project_id=project_id, item_id=ids[external_id])
        picked_by = [p for p in history.predictions if p.model_version == 1]
        assert len(picked_by) == 1
        assert picked_by[0].score == pytest.approx(shown[external_id])
