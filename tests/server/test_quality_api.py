"""The suspect queue over HTTP: list suspects, confirm or clear one, and the guards."""

from __future__ import annotations

from labelloop.engine import ingest, rounds
from labelloop.engine.annotate import record_annotation

API = "/api/v1"
FLIPPED = ("s2", "s33")


def _flag(world) -> None:
    texts = [f"wonderful excellent lovely film {i}" for i in range(25)]
    texts += [f"terrible awful dreadful film {i}" for i in range(25)]
    ingest.import_items(
        world.db,
        actor="cli:test",
        project=world.project_id,
        records=[{"id": f"s{i}", "text": text} for i, text in enumerate(texts)],
    )
    for i in range(50):
        label = "pos" if i < 25 else "neg"
        if f"s{i}" in FLIPPED:
            label = "neg" if label == "pos" else "pos"
        record_annotation(
            world.db, actor="cli:test", project=world.project_id, external_id=f"s{i}", label=label
        )
    rounds.train(world.db, actor="cli:test", project=world.project_id)


def test_suspects_are_listed_and_ruled_on(world) -> None:
    _flag(world)
    path = f"{API}/projects/{world.project_id}/suspects"
    listed = world.call("annotator", "GET", path)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    by_item = {s["item_external_id"]: s for s in body["suspects"]}
    assert set(FLIPPED) <= set(by_item)
    assert body["summary"]["open"] == len(body["suspects"])
    assert [p["k"] for p in body["summary"]["precision_at"]] == [10, 50, 100, None]
    assert world.call("outsider", "GET", path).status_code == 404
    assert world.call("annotator", "GET", f"{path}?limit=0").status_code == 422

    wrong = by_item["s2"]
    url = f"{path}/{wrong['id']}"
    assert world.call("annotator", "POST", url, json={"verdict": "clear"}).status_code == 403
    bad = world.call("reviewer", "POST", url, json={"verdict": "confirm", "label": "meh"})
    assert bad.status_code == 422 and bad.json()["field"] == "label"
    foreign = f"{API}/projects/{world.other_project_id}/suspects/{wrong['id']}"
    assert world.call("admin", "POST", foreign, json={"verdict": "clear"}).status_code == 404
    confirmed = world.call("reviewer", "POST", url, json={"verdict": "confirm"})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["corrected_label"]) == ("confirmed", "pos")
    again = world.call("reviewer", "POST", url, json={"verdict": "clear"})
    assert again.status_code == 409

    cleared = world.call(
        "reviewer", "POST", f"{path}/{by_item['s33']['id']}", json={"verdict": "clear"}
    )
    assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
    summary = world.call("reviewer", "GET", path).json()["summary"]
    assert (summary["confirmed"], summary["cleared"]) == (1, 1)
    assert summary["precision_at"][-1]["precision"] == 0.5


def test_the_suspect_pages_render_and_rule(world) -> None:
    from labelloop.engine.users import set_password

    _flag(world)
    set_password(world.db, actor="cli:test", user="reviewer", password="reviewer password")
    login = world.client.post(
        f"{API}/auth/login", json={"name": "reviewer", "password": "reviewer password"}
    )
    assert login.status_code == 200, login.text
    csrf = login.json()["csrf_token"]
    dashboard = world.client.get(f"/projects/{world.project_id}")
    assert dashboard.status_code == 200, dashboard.text
    assert 'id="suspects-panel"' in dashboard.text
    page = world.client.get(f"/projects/{world.project_id}/suspects")
    assert page.status_code == 200, page.text
    suspects = world.call("reviewer", "GET", f"{API}/projects/{world.project_id}/suspects")
    wrong = {s["item_external_id"]: s for s in suspects.json()["suspects"]}["s2"]
    assert f'id="suspect-{wrong["id"]}"' in page.text
    url = f"/projects/{world.project_id}/suspects/{wrong['id']}"
    expired = world.client.post(url, data={"verdict": "clear", "csrf_token": "stale"})
    assert expired.status_code == 422 and "expired" in expired.text
    bad = world.client.post(url, data={"verdict": "nope", "csrf_token": csrf})
    assert bad.status_code == 422 and "unknown verdict" in bad.text
    ruled = world.client.post(url, data={"verdict": "confirm", "label": "pos", "csrf_token": csrf})
    assert ruled.status_code == 200 and "s2: confirmed" in ruled.text
