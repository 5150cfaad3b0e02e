"""Auto-labels over HTTP: the status's fields, the list, resuming after a pause, the dashboard."""

from __future__ import annotations

import random

from sqlalchemy import select

from labelloop.engine import rounds, users
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.store.tables import AnnotationRow, AutoLabelPauseRow, AutoLabelRow, ItemRow

API = "/api/v1"


def _project(world) -> int:
    rng = random.Random(0)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    records = []
    for i in range(400):
        label = "pos" if i % 2 == 0 else "neg"
        record = {"id": f"a{i}", "text": " ".join(rng.choices(words[label], k=4)) + f" w{i}"}
        records.append({**record, "label": label} if i < 260 else record)
    info = create_project(
        world.db, actor="cli:test", name="auto", task_type="classification",
        labels=["pos", "neg"],
        settings={"eval_share": 0.4, "eval_min": 0, "auto_label": True,
                  "auto_label_precision": 0.8, "auto_label_risk": 0.1,
                  "auto_label_spot_check": 1.0},
    )  # fmt: skip
    import_items(world.db, actor="cli:test", project=info.id, records=records)
    for role in ("admin", "annotator"):
        world.call("admin", "POST", f"{API}/projects/{info.id}/members",
                   json={"user_id": world.user_ids[role]})  # fmt: skip
    return info.id


def test_status_lists_and_resume_over_http(world) -> None:
    p = _project(world)
    trained = rounds.train(world.db, actor="cli:test", project=p)
    n = trained.metrics["auto_label"]["n_labelled"]
    assert n > 0
    status = world.call("admin", "GET", f"{API}/projects/{p}/status").json()
    assert status["n_auto_labelled"] == n
    auto = status["auto_label"]
    assert auto["enabled"] and not auto["paused"]
    assert auto["threshold"] == trained.metrics["auto_label"]["threshold"]
    assert auto["spot_checks"]["sent"] == n and auto["spot_checks"]["checked"] == 0
    listed = world.call("admin", "GET", f"{API}/projects/{p}/auto-labels?limit=5").json()
    assert len(listed) == 5 and all(row["spot_check"] for row in listed)
    assert all(row["confidence"] >= row["threshold"] for row in listed)
    assert all(row["model_version"] == 1 and row["standing"] for row in listed)
    bad = world.call("admin", "GET", f"{API}/projects/{p}/auto-labels?limit=0")
    assert bad.status_code == 422

    # People contradict the spot checks over the API until auto-labelling pauses.
    with world.db.read() as session:
        spot = dict(
            session.execute(
                select(ItemRow.external_id, AnnotationRow.label)
                .join(AutoLabelRow, AutoLabelRow.item_id == ItemRow.id)
                .join(AnnotationRow, AnnotationRow.id == AutoLabelRow.annotation_id)
            ).all()
        )
    for _ in range(400):
        task = world.call("annotator", "POST", f"{API}/projects/{p}/tasks/next").json()
        external = task["item"]["external_id"]
        label = "pos" if spot.get(external, "neg") == "neg" else "neg"
        made = world.call("annotator", "POST", f"{API}/tasks/{task['id']}/annotations",
                          json={"label": label})  # fmt: skip
        assert made.status_code == 201, made.text
        auto = world.call("admin", "GET", f"{API}/projects/{p}/status").json()["auto_label"]
        if auto["paused"]:
            break
    assert auto["paused"] and auto["spot_checks"]["high"] < 0.8
    assert auto["pause_reason"].startswith("spot checks confirmed 0 of")
    denied = world.call("annotator", "POST", f"{API}/projects/{p}/auto-labels/resume")
    assert denied.status_code == 403
    # The dashboard says why, and an admin resumes from it.
    page = _admin_page(world, p)
    assert 'id="auto-label-pause"' in page and auto["pause_reason"] in page
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = world.client.post(f"/projects/{p}/auto-labels/resume", data={"csrf_token": csrf},
                             follow_redirects=False)  # fmt: skip
    assert form.status_code == 303
    after = world.call("admin", "GET", f"{API}/projects/{p}/status").json()["auto_label"]
    assert not after["paused"] and after["spot_checks"]["sent"] == 0
    assert "Paused because" not in world.client.get(f"/projects/{p}").text
    again = world.call("admin", "POST", f"{API}/projects/{p}/auto-labels/resume")
    assert again.status_code == 422 and again.json()["field"] == "project"


def test_resume_over_the_api_when_paused(world) -> None:
    p = _project(world)
    rounds.train(world.db, actor="cli:test", project=p)
    with world.db.transaction() as session:
        session.add(AutoLabelPauseRow(project_id=p, reason="spot checks fell short",
                                      checked=5, correct=0, upper=0.5))  # fmt: skip
    assert world.call("admin", "GET", f"{API}/projects/{p}/status").json()["auto_label"]["paused"]
    resumed = world.call("admin", "POST", f"{API}/projects/{p}/auto-labels/resume")
    assert resumed.status_code == 204
    assert not world.call("admin", "GET", f"{API}/projects/{p}/status").json()["auto_label"][
        "paused"
    ]


def _admin_page(world, project_id: int) -> str:
    users.create_user(world.db, actor="cli:test", name="boss", role="admin",
                      password="a long password", projects=[project_id])  # fmt: skip
    login = world.client.post("/login", data={"name": "boss", "password": "a long password"},
                              follow_redirects=False)  # fmt: skip
    assert login.status_code == 303, login.text
    return world.client.get(f"/projects/{project_id}").text
