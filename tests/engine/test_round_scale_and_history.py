"""One uncertainty scale for query and status."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_rounds import ACTOR, make_text_project

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
    assert f"scores {top.score:.4g}," in verdict["reason"]
    assert verdict["reason"].endswith(f"({measure.replace('_', ' ')})")
    # Two classes: the threshold restated on the scale stops exactly where least
    # confidence below 0.05 always did.
    least_confidence = max(1 - max(p.values()) for p in _pool_predictions(db, 1).values())
    assert verdict["stop"] is (least_confidence < 0.05)
