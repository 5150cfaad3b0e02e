"""The forecast over HTTP: the API's answer, who may ask, and the dashboard's sentences and band."""

from __future__ import annotations

import pytest
from conftest import World
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelloop.engine import users
from labelloop.engine.annotate import record_annotation
from labelloop.engine.projects import update_settings
from labelloop.engine.rounds import train
from labelloop.exceptions import ValidationError
from labelloop.report.charts import learning_curve_svg
from labelloop.store.tables import ItemRow

API = "/api/v1"


def _trained(make_world, *, rounds: int = 4) -> World:
    """40 evaluation items and ``rounds`` rounds of 10 more labels each, target 0.99."""
    world = make_world(n_items=120)
    with world.db.transaction() as session:
        items = session.execute(
            select(ItemRow).where(ItemRow.project_id == world.project_id).order_by(ItemRow.id)
        ).scalars()
        ids = []
        for index, item in enumerate(items):
            item.is_eval = index < 40
            ids.append(item.external_id)
    update_settings(
        world.db, actor="cli:test", project=world.project_id, changes={"target_score": 0.99}
    )

    def label(external_ids: list[str]) -> None:
        for external_id in external_ids:
            number = int(external_id[1:])
            record_annotation(
                world.db, actor="cli:test", project=world.project_id,
                external_id=external_id, label="pos" if number % 3 else "neg",
            )  # fmt: skip

    label(ids[:40])
    for k in range(rounds):
        label(ids[40 + 10 * k : 50 + 10 * k])
        train(world.db, actor="cli:test", project=world.project_id)
    return world


def test_a_young_project_answers_what_the_forecast_still_needs(world: World) -> None:
    response = world.call("annotator", "GET", f"{API}/projects/{world.project_id}/forecast")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forecast"] is None and body["savings"] is None and body["band"] == []
    assert body["metric"] == "macro_f1" and body["target"] is None
    assert any("the forecast needs" in note for note in body["notes"])
    assert body["sentences"] == body["notes"]


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("outsider", 404), ("bad", 401)])
def test_the_forecast_is_for_the_projects_members(world: World, who, status) -> None:
    response = world.call(who, "GET", f"{API}/projects/{world.project_id}/forecast")
    assert response.status_code == status, response.text


def test_the_forecast_of_a_missing_project_is_not_found(world: World) -> None:
    assert world.call("admin", "GET", f"{API}/projects/999999/forecast").status_code == 404


def test_a_trained_project_answers_its_forecast_savings_and_band(make_world) -> None:
    world = _trained(make_world)
    body = world.call("admin", "GET", f"{API}/projects/{world.project_id}/forecast").json()
    assert [n for n, _ in body["curve"]] == [10, 20, 30, 40]
    forecast = body["forecast"]
    assert forecast["target"] == 0.99 and forecast["n_labels"] == 40
    assert forecast["sentence"] in body["sentences"]
    if forecast["reachable"]:
        assert forecast["labels_low"] <= forecast["labels_needed"]
    else:
        assert forecast["labels_needed"] is None and "not reachable" in forecast["sentence"]
    score, low, high = forecast["at_double"]
    assert low <= score <= high
    assert len(body["band"]) == 8 and body["band"][-1][0] == 80
    savings = body["savings"]
    assert savings["n_labels"] == 40 and savings["metric"] == "macro-F1"
    assert savings["sentence"] in body["sentences"]
    assert body["pace"] is not None

    users.set_password(world.db, actor="cli:test", user="admin", password="a long password")
    page_client = TestClient(world.client.app)
    login = page_client.post(
        "/login", data={"name": "admin", "password": "a long password"}, follow_redirects=False
    )
    assert login.status_code == 303, login.text
    page = page_client.get(f"/projects/{world.project_id}").text
    worth = page.split('<div id="worth">')[1].split("</div>")[0]
    assert "What labelling is worth" in worth
    assert "the model reached macro-F1" in worth
    assert "forecast (80%)" in page and "target" in page


def test_the_chart_draws_a_band_and_refuses_a_bad_one() -> None:
    rounds = [{"n_labels": n, "metrics": {"eval": {"macro_f1": 0.5 + n / 1000}}} for n in (10, 20)]
    svg = learning_curve_svg(rounds, band=[(20, 0.52, 0.5, 0.55), (40, 0.55, 0.5, 0.6)], target=0.6)
    assert "forecast (80%)" in svg and "target" in svg
    with pytest.raises(ValidationError) as error:
        learning_curve_svg(rounds, band=[(20, 0.5, 0.4)])
    assert error.value.field == "band.0"
    with pytest.raises(ValidationError) as error:
        learning_curve_svg(rounds, target=2)
    assert error.value.field == "target"
