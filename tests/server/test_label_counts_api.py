"""Labels per class over HTTP and on the dashboard, rare classes marked; auto's options
set through the settings API."""

from __future__ import annotations

from conftest import World

from labelloop.engine import users
from labelloop.engine.annotate import record_annotation

API = "/api/v1"


def _label(world: World, n_pos: int, n_neg: int) -> None:
    for i in range(n_pos + n_neg):
        record_annotation(
            world.db, actor="cli:test", project=world.project_id, external_id=f"r{i}",
            label="pos" if i < n_pos else "neg",
        )  # fmt: skip


def test_status_counts_labels_per_class_and_marks_the_rare_one(world: World) -> None:
    _label(world, 12, 1)
    response = world.call("annotator", "GET", f"{API}/projects/{world.project_id}/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label_counts"] == {"pos": 12, "neg": 1}
    assert body["rare_labels"] == ["neg"]
    users.create_user(world.db, actor="cli:test", name="boss", role="admin",
                      password="a long password", projects=[world.project_id])  # fmt: skip
    login = world.client.post("/login", data={"name": "boss", "password": "a long password"},
                              follow_redirects=False)  # fmt: skip
    assert login.status_code == 303, login.text
    page = world.client.get(f"/projects/{world.project_id}").text
    assert 'id="label-counts"' in page and 'class="rare"><th>neg' in page


def test_auto_options_are_settings_of_the_api(world: World) -> None:
    url = f"{API}/projects/{world.project_id}/settings"
    ok = world.call("admin", "PATCH", url, json={"rare_classes": "on", "group_sampling": "minmax"})
    assert ok.status_code == 200, ok.text
    bad = world.call("admin", "PATCH", url, json={"group_sampling": "fair"})
    assert bad.status_code == 422 and "group_sampling" in bad.text
