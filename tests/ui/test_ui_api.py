"""The UI's own API (progress, model guess, item search and history, label again after
undo) through the real app, with its role rules, and the engine views behind it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from labelloop.engine import (
    annotate,
    browse,
    ingest,
    predictions,
    projects,
    queue,
    users,
)
from labelloop.engine.core import identity
from labelloop.engine.core.settings import SETTINGS
from labelloop.engine.queue import lookahead
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.report.charts import learning_curve_points, learning_curve_svg
from labelloop.server import ServerSettings, create_app
from labelloop.server.permissions import permission_allowed, project_reachable, role_allows
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, JobRow, RoundRow

API = "/api/v1"


@dataclass
class World:
    db: Database
    client: TestClient
    project_id: int
    other_id: int
    tokens: dict[str, str]
    users: dict[str, identity.UserInfo]

    def call(self, who: str | None, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.request(method, API + path, headers=headers, **kwargs)


@pytest.fixture
def world(sqlite_db: Database) -> World:
    db = sqlite_db
    project = projects.create_project(
        db,
        actor="cli:test",
        name="films",
        task_type="classification",
        labels=["pos", "neg"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    other = projects.create_project(
        db, actor="cli:test", name="other", task_type="classification", labels=["a", "b"]
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=project.id,
        records=[
            {
                "id": f"f{n}",
                "text": f"Film {n} is {'great' if n % 2 else 'dull'}.",
                "meta": {"lang": "fr" if n < 3 else "en"},
            }
            for n in range(12)
        ],
    )
    tokens, infos = {}, {}
    for name in ("admin", "annotator", "reviewer", "model"):
        infos[name], tokens[name] = users.create_user(
            db, actor="cli:test", name=name, role=name, projects=[project.id]
        )
    infos["outsider"], tokens["outsider"] = users.create_user(
        db, actor="cli:test", name="outsider", role="annotator", projects=[other.id]
    )
    infos["stranger"], tokens["stranger"] = users.create_user(
        db, actor="cli:test", name="stranger", role="reviewer", projects=[other.id]
    )
    client = TestClient(create_app(ServerSettings(), db=db))
    return World(db, client, project.id, other.id, tokens, infos)


def _label(world: World, who: str, label: str) -> int:
    task = queue.lease_next_task(db=world.db, project_id=world.project_id, user=world.users[who])
    made, _ = annotate.submit_annotation(
        world.db, task_id=task.id, user=world.users[who], label=label
    )
    return made.id


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("model", 403), ("outsider", 404), ("annotator", 200), ("admin", 200)],
)
def test_progress_role_rules(world: World, who, status) -> None:
    response = world.call(who, "GET", f"/projects/{world.project_id}/progress/me")
    assert response.status_code == status, response.text
    if status != 200:
        assert set(response.json()) == {"error", "detail", "field"}


def test_progress_counts_today_and_agreement_with_reviewers(world: World) -> None:
    _label(world, "annotator", "pos")
    _label(world, "annotator", "neg")
    body = world.call("annotator", "GET", f"/projects/{world.project_id}/progress/me").json()
    assert body == {
        "done_today": 2,
        "done_total": 2,
        "reviewed": 0,
        "accepted": 0,
        "review_agreement": None,
        "seconds_today": 0.0,
        "labels_per_hour": None,
        "queue_done": 2,
        "queue_total": 12,
    }


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("model", 403), ("annotator", 403), ("stranger", 404), ("reviewer", 200)],
)
def test_search_and_history_are_for_admins_and_reviewers(world: World, who, status) -> None:
    found = world.call(who, "GET", f"/projects/{world.project_id}/items?q=film")
    assert found.status_code == status, found.text
    history = world.call(who, "GET", f"/projects/{world.project_id}/items/1/history")
    assert history.status_code == status, history.text


def test_search_filters(world: World) -> None:
    _label(world, "annotator", "pos")
    search = browse.search_items
    assert search(world.db, world.project_id, text="GREAT").total == 6
    assert search(world.db, world.project_id, meta="lang=fr").total == 3
    assert search(world.db, world.project_id, meta="fr").total == 3
    assert search(world.db, world.project_id, status="annotated").total == 1
    assert search(world.db, world.project_id, label="pos").total == 1
    assert search(world.db, world.project_id, annotator="annotator").total == 1
    assert search(world.db, world.project_id, text="100%_").total == 0
    page = search(world.db, world.project_id, limit=5, offset=10)
    assert (page.total, len(page.items)) == (12, 2)
    with pytest.raises(ValidationError, match="status"):
        search(world.db, world.project_id, status="done")
    with pytest.raises(ValidationError, match="limit"):
        search(world.db, world.project_id, limit=0)


def test_guess_and_score_filter_after_a_pushed_prediction(world: World) -> None:
    predictions.push_predictions(
        world.db,
        project_id=world.project_id,
        actor="model:model",
        model_version="v1",
        predictions=[
            {"item_id": "f1", "probabilities": {"pos": 0.8, "neg": 0.2}},
            {"item_id": "f2", "probabilities": {"pos": 0.5, "neg": 0.5}},
        ],
    )
    item_id = browse.search_items(world.db, world.project_id, text="f1").items[0].id
    guess = world.call("annotator", "GET", f"/projects/{world.project_id}/items/{item_id}/guess")
    assert guess.status_code == 200, guess.text
    assert guess.json()["label"] == "pos"
    assert guess.json()["confidence"] == pytest.approx(0.8)
    scored = browse.search_items(world.db, world.project_id, min_score=-1e9)
    assert scored.total == 2 and all(i.score is not None for i in scored.items)
    unscored = world.call("annotator", "GET", f"/projects/{world.project_id}/items/5/guess")
    assert unscored.status_code == 200 and unscored.json() is None
    projects.update_settings(
        world.db, actor="cli:test", project=world.project_id, changes={"show_model_guess": False}
    )
    hidden = world.call("annotator", "GET", f"/projects/{world.project_id}/items/{item_id}/guess")
    assert hidden.status_code == 403
    shown = world.call("reviewer", "GET", f"/projects/{world.project_id}/items/{item_id}/guess")
    assert shown.status_code == 200


def test_guess_of_an_item_of_another_project_is_404(world: World) -> None:
    ingest.import_items(
        world.db, actor="cli:test", project=world.other_id, records=[{"id": "o1", "text": "x"}]
    )
    other_item = browse.search_items(world.db, world.other_id).items[0].id
    response = world.call("admin", "GET", f"/projects/{world.project_id}/items/{other_item}/guess")
    assert response.status_code == 404


def test_undo_then_label_again_keeps_the_held_task_next(world: World) -> None:
    p = world.project_id
    first = world.call("annotator", "POST", f"/projects/{p}/tasks/next").json()
    made = world.call(
        "annotator", "POST", f"/tasks/{first['id']}/annotations", json={"label": "pos"}
    )
    assert made.status_code == 201
    held = world.call("annotator", "POST", f"/projects/{p}/tasks/next").json()
    annotation = made.json()["id"]
    assert world.call("annotator", "POST", f"/annotations/{annotation}/relabel").status_code == 409
    assert world.call("annotator", "POST", f"/annotations/{annotation}/undo").status_code == 200
    assert world.call("reviewer", "POST", f"/annotations/{annotation}/relabel").status_code == 403
    again = world.call("annotator", "POST", f"/annotations/{annotation}/relabel")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    # Asking again while holding that lease gives the same lease back, not a new one.
    twice = world.call("annotator", "POST", f"/annotations/{annotation}/relabel")
    assert twice.status_code == 200, twice.text
    assert twice.json()["lease_id"] == again.json()["lease_id"]
    redo = world.call(
        "annotator", "POST", f"/tasks/{first['id']}/annotations", json={"label": "neg"}
    )
    assert redo.status_code == 201
    assert world.call("annotator", "POST", f"/projects/{p}/tasks/next").json()["id"] == held["id"]
    history = world.call("admin", "GET", f"/projects/{p}/items/{first['item']['id']}/history")
    body = history.json()
    assert [a["status"] for a in body["annotations"]] == ["undone", "active"]
    assert [e["action"] for e in body["events"]].count("task.leased") == 2
    assert "annotation.undone" in [e["action"] for e in body["events"]]


def test_throughput_and_missing_items(world: World) -> None:
    _label(world, "annotator", "pos")
    _label(world, "reviewer", "neg")
    rows = {row.name: row for row in browse.annotator_throughput(world.db, world.project_id)}
    assert set(rows) == {"annotator", "reviewer"}
    assert (rows["annotator"].today, rows["annotator"].total) == (1, 1)
    with pytest.raises(NotFoundError):
        browse.item_history(world.db, project_id=world.project_id, item_id=10**6)


def test_learning_curve_svg() -> None:
    rounds = [
        {"n_labels": 10, "metrics": {}},
        {"n_labels": 20, "metrics": {"eval": {"accuracy": 0.6, "macro_f1": 0.5}}},
        {"n_labels": 30, "metrics": {"cv": {"accuracy": 0.7}}},
    ]
    points = learning_curve_points(rounds)
    assert points == {"accuracy": [(20, 0.6), (30, 0.7)], "macro F1": [(20, 0.5)]}
    svg = learning_curve_svg(rounds)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "no scored round yet" in learning_curve_svg([])
    with pytest.raises(ValidationError, match="round 1"):
        learning_curve_points([{"n_labels": "ten", "metrics": {}}])


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("model", 403), ("outsider", 404), ("annotator", 200)]
)
def test_lease_ahead_role_rules(world: World, who, status) -> None:
    if status == 200:
        world.call(who, "POST", f"/projects/{world.project_id}/tasks/next")
    response = world.call(who, "POST", f"/projects/{world.project_id}/tasks/ahead")
    assert response.status_code == status, response.text


def test_lease_ahead_becomes_the_next_task(world: World) -> None:
    p = world.project_id
    assert world.call("annotator", "POST", f"/projects/{p}/tasks/ahead").status_code == 204
    current = world.call("annotator", "POST", f"/projects/{p}/tasks/next").json()
    ahead = world.call("annotator", "POST", f"/projects/{p}/tasks/ahead").json()
    assert ahead["id"] != current["id"]
    again = world.call("annotator", "POST", f"/projects/{p}/tasks/ahead").json()
    assert again["id"] == ahead["id"]  # asking twice never hoards tasks
    other = world.call("reviewer", "POST", f"/projects/{p}/tasks/next").json()
    assert other["id"] not in (current["id"], ahead["id"])
    made = world.call(
        "annotator", "POST", f"/tasks/{current['id']}/annotations", json={"label": "pos"}
    )
    assert made.status_code == 201
    assert world.call("annotator", "POST", f"/projects/{p}/tasks/next").json()["id"] == ahead["id"]


def test_each_holder_of_one_annotator_leases_its_own_tasks(world: World) -> None:
    p = world.project_id
    tab_a = world.call("annotator", "POST", f"/projects/{p}/tasks/next?holder=tab-a").json()
    tab_b = world.call("annotator", "POST", f"/projects/{p}/tasks/next?holder=tab-b").json()
    assert tab_a["id"] != tab_b["id"]
    again = world.call("annotator", "POST", f"/projects/{p}/tasks/next?holder=tab-a").json()
    assert again["id"] == tab_a["id"]
    ahead = world.call("annotator", "POST", f"/projects/{p}/tasks/ahead?holder=tab-b").json()
    assert ahead["id"] not in (tab_a["id"], tab_b["id"])
    for task in (tab_a, tab_b):
        made = world.call(
            "annotator", "POST", f"/tasks/{task['id']}/annotations", json={"label": "pos"}
        )
        assert made.status_code == 201
    twice = world.call(
        "annotator", "POST", f"/tasks/{tab_a['id']}/annotations", json={"label": "neg"}
    )
    assert twice.status_code == 409
    assert "already labelled" in twice.json()["detail"]
    bad = world.call("annotator", "POST", f"/projects/{p}/tasks/next?holder=a%20b")
    assert bad.status_code == 422 and bad.json()["field"] == "holder"


def test_feedback_and_pulse_over_http(world: World) -> None:
    from labelloop.engine import review

    p = world.project_id
    projects.update_settings(
        world.db, actor="cli:test", project=p, changes={"review_policy": "all"}
    )
    _label(world, "annotator", "pos")
    leased = review.lease_next_review(world.db, project_id=p, user=world.users["reviewer"])
    review.submit_review(
        world.db,
        review_task_id=leased.id,
        user=world.users["reviewer"],
        verdict="correct",
        label="neg",
        note="dull means neg",
    )
    assert world.call("annotator", "GET", f"/projects/{p}/pulse").json() == {
        "guideline_version": 0,
        "unread_feedback": 1,
    }
    page = world.call("annotator", "GET", f"/projects/{p}/feedback").json()
    assert (page["total"], page["unread"]) == (1, 1)
    entry = page["entries"][0]
    assert (entry["reviewer_label"], entry["your_label"], entry["note"]) == (
        "neg",
        "pos",
        "dull means neg",
    )
    assert world.call("reviewer", "GET", f"/projects/{p}/feedback").json()["total"] == 0
    seen = world.call("annotator", "POST", f"/projects/{p}/feedback/seen")
    assert seen.json() == {"marked": 1}
    assert world.call("annotator", "GET", f"/projects/{p}/pulse").json()["unread_feedback"] == 0
    assert world.call("outsider", "GET", f"/projects/{p}/feedback").status_code == 404
    assert world.call("model", "GET", f"/projects/{p}/pulse").status_code == 403
    assert world.call(None, "GET", f"/projects/{p}/pulse").status_code == 401


def test_engine_views_on_both_databases(database: Database) -> None:
    project = projects.create_project(
        database,
        actor="cli:test",
        name="films",
        task_type="classification",
        labels=["pos", "neg"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    ingest.import_items(
        database,
        actor="cli:test",
        project=project.id,
        records=[
            {"id": f"f{n}", "text": f"Film {n} is 100% fun_{n}", "meta": {"lang": "fr"}}
            for n in range(6)
        ],
    )
    annotator, _token = users.create_user(
        database, actor="cli:test", name="ann", role="annotator", projects=[project.id]
    )
    first = queue.lease_next_task(database, project_id=project.id, user=annotator)
    ahead = lookahead.lease_ahead(database, project_id=project.id, user=annotator)
    assert ahead is not None and ahead.id != first.id
    annotate.submit_annotation(database, task_id=first.id, user=annotator, label="neg")
    search = browse.search_items
    assert search(database, project.id, text="100% FUN_1").total == 1
    assert search(database, project.id, meta="lang=fr").total == 6
    assert search(database, project.id, label="neg", annotator="ann").total == 1
    history = browse.item_history(database, project_id=project.id, item_id=first.item.id)
    assert [a.label for a in history.annotations] == ["neg"]
    progress = browse.annotator_progress(database, project_id=project.id, user_id=annotator.id)
    assert (progress.done_today, progress.done_total) == (1, 1)


def _page_login(world: World, name: str) -> TestClient:
    users.set_password(world.db, actor="cli:test", user=name, password="a long password")
    client = TestClient(world.client.app)
    response = client.post(
        "/login", data={"name": name, "password": "a long password"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def test_pages_need_a_session_a_role_and_the_csrf_token(world: World) -> None:
    p = world.project_id
    anonymous = TestClient(world.client.app)
    assert "Log in" in anonymous.get(f"/projects/{p}/settings").text
    wrong = anonymous.post("/login", data={"name": "admin", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text

    annotator = _page_login(world, "annotator")
    away = TestClient(world.client.app).post(
        "/login",
        data={"name": "annotator", "password": "a long password", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert (away.status_code, away.headers["location"]) == (303, "/projects")
    assert annotator.get(f"/projects/{p}/label").status_code == 200
    refused = annotator.get(f"/projects/{p}/settings")
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert "This page is for admins; you are logged in as annotator" in refused.text
    assert annotator.get(f"/projects/{world.other_id}/label").status_code == 404

    admin = _page_login(world, "admin")
    before = projects.get_project_info(world.db, p).settings["batch_size"]
    forged = admin.post(f"/projects/{p}/settings", data={"batch_size": "99"})
    assert forged.status_code == 422 and "expired" in forged.text
    assert projects.get_project_info(world.db, p).settings["batch_size"] == before
    page = admin.get(f"/projects/{p}/settings").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    saved = admin.post(
        f"/projects/{p}/settings",
        data={"csrf_token": csrf, "batch_size": "99", "review_policy": "none"},
    )
    assert saved.status_code == 200 and "settings saved" in saved.text
    assert projects.get_project_info(world.db, p).settings["batch_size"] == 99
    escaped = admin.post(
        f"/projects/{p}/settings",
        data={"csrf_token": csrf, "review_policy": "none", "guidelines": "<b>bold</b> *it*"},
    )
    assert "guidelines version 1 saved" in escaped.text
    rendered = admin.get(f"/projects/{p}/guidelines").text
    assert "&lt;b&gt;bold&lt;/b&gt; <em>it</em>" in rendered


def test_the_settings_form_edits_what_the_settings_table_puts_in_it(world: World) -> None:
    p = world.project_id
    admin = _page_login(world, "admin")
    page = admin.get(f"/projects/{p}/settings").text
    for setting in SETTINGS:
        assert (f'name="{setting.name}"' in page) == setting.in_form, setting.name
        if setting.in_form:
            assert str(escape(setting.help)) in page
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, "review_policy": "none", "show_model_guess": "on"}
    saved = admin.post(
        f"/projects/{p}/settings", data={**form, "lease_seconds": "120", "label_budget": "500"}
    )
    assert saved.status_code == 200 and "settings saved" in saved.text
    assert projects.get_project_info(world.db, p).settings["lease_seconds"] == 120
    assert projects.get_project_info(world.db, p).settings["label_budget"] == 500
    # An empty optional number clears it; an empty required one leaves it as it was.
    admin.post(f"/projects/{p}/settings", data={**form, "lease_seconds": "", "label_budget": ""})
    assert projects.get_project_info(world.db, p).settings["label_budget"] is None
    assert projects.get_project_info(world.db, p).settings["lease_seconds"] == 120
    bad = admin.post(f"/projects/{p}/settings", data={**form, "review_percent": "ten"})
    assert bad.status_code == 422 and "review percent must be a number" in bad.text
    refused = admin.post(f"/projects/{p}/settings", data={**form, "overlap": "21"})
    assert refused.status_code == 422 and "overlap" in refused.text
    assert projects.get_project_info(world.db, p).settings["overlap"] == 1


def test_pages_answer_404_for_ids_out_of_range(world: World) -> None:
    admin = _page_login(world, "admin")
    for path in (
        f"/projects/{2**70}",
        f"/projects/{world.project_id}/items/{2**70}",
        f"/projects/{world.project_id}/items/999999",
        "/projects/0/label",
    ):
        assert admin.get(path).status_code == 404, path


PAGE_ACTIONS = {
    "/label": "label",
    "/guidelines": "label",
    "/review": "review",
    "": "review",
    "/items": "review",
    "/settings": "administer",
    "/members": "administer",
}


@pytest.mark.parametrize("who", ["admin", "annotator", "reviewer", "outsider", "stranger"])
def test_pages_open_exactly_where_the_permission_check_allows(world: World, who: str) -> None:
    client = _page_login(world, who)
    user = world.users[who]
    for project_id in (world.project_id, world.other_id):
        for suffix, action in PAGE_ACTIONS.items():
            allowed = permission_allowed(world.db, user, action, project_id)
            # A member whose role may not is told so; outside the project nothing shows.
            member = project_reachable(world.db, user, project_id)
            expected = 200 if allowed else 403 if member else 404
            response = client.get(f"/projects/{project_id}{suffix}")
            assert response.status_code == expected, (who, suffix, project_id)


def test_a_model_account_opens_no_page(world: World) -> None:
    users.set_password(world.db, actor="cli:test", user="model", password="a long password")
    client = TestClient(world.client.app)
    response = client.post("/login", data={"name": "model", "password": "a long password"})
    assert response.status_code == 401
    assert not role_allows(world.users["model"], "label")


def test_the_dashboard_shows_a_failed_job_with_its_error(world: World) -> None:
    error = "ValidationError: strategy 'bald' needs a committee <or sampled predictions>"
    with world.db.transaction() as session:
        session.add(JobRow(project_id=world.project_id, kind="retrain", status="failed",
                           attempts=1, error=error))  # fmt: skip
        session.add(JobRow(project_id=world.project_id, kind="retrain", status="done", attempts=1))
    page = _page_login(world, "admin").get(f"/projects/{world.project_id}").text
    jobs_table = page.split('<table id="jobs">')[1].split("</table>")[0]
    failed = jobs_table.split('<tr class="job-failed">')[1].split("</tr>")[0]
    assert "retrain" in failed and str(escape(error)) in failed
    assert '<tr class="job-done">' in jobs_table


def test_the_dashboard_shows_the_evaluation_minimum_and_the_accuracy_interval(
    world: World,
) -> None:
    metrics = {"eval": {"accuracy": 0.8, "accuracy_ci": [0.490162, 0.943318], "n": 10,
                        "macro_f1": 0.78}}  # fmt: skip
    with world.db.transaction() as session:
        items = session.execute(
            select(ItemRow).where(ItemRow.project_id == world.project_id).limit(3)
        ).scalars()
        for item in items:
            item.is_eval = True
        session.add(RoundRow(project_id=world.project_id, number=1, strategy="margin",
                             metrics=metrics, n_labels=20))  # fmt: skip
    page = _page_login(world, "admin").get(f"/projects/{world.project_id}").text
    assert "not enough evaluation labels yet (0 of 3)" in page
    rounds_table = page.split('<table id="rounds">')[1].split("</table>")[0]
    assert "0.800" in rounds_table and "[0.490, 0.943] n=10" in rounds_table


def test_the_settings_page_shows_the_label_studio_connection(world: World) -> None:
    p = world.project_id
    admin = _page_login(world, "admin")
    page = admin.get(f"/projects/{p}/settings").text
    assert f"<code>http://testserver/label-studio/{p}</code>" in page
    assert (
        "&lt;Choices name=&#34;label&#34;" in page or "&lt;Choices name=&quot;label&quot;" in page
    )


def test_saved_filters_over_http_admins_save_and_reviewers_apply(world: World) -> None:
    path = f"/projects/{world.project_id}/filters"
    body = {"name": "french", "filters": {"meta": "lang=fr", "sort": "-external_id"}}
    assert world.call("reviewer", "POST", path, json=body).status_code == 403
    assert world.call("annotator", "GET", path).status_code == 403
    saved = world.call("admin", "POST", path, json=body)
    assert saved.status_code == 201, saved.text
    assert saved.json()["filters"] == body["filters"]
    listed = world.call("reviewer", "GET", path).json()
    assert [f["name"] for f in listed] == ["french"]
    bad = world.call("admin", "POST", path, json={"name": "x", "filters": {"colour": "red"}})
    assert bad.status_code == 422 and bad.json()["field"] == "filters.colour"
    # The saved query, applied through the search, gives the French films, last first.
    query = "&".join(f"{k}={v}" for k, v in listed[0]["filters"].items())
    found = world.call("reviewer", "GET", f"/projects/{world.project_id}/items?{query}").json()
    assert [i["external_id"] for i in found["items"]] == ["f2", "f1", "f0"]
    wrong = world.call("reviewer", "GET", f"/projects/{world.project_id}/items?sort=colour")
    assert wrong.status_code == 422 and wrong.json()["field"] == "sort"
    gone = world.call("admin", "DELETE", f"{path}/{listed[0]['id']}")
    assert gone.status_code == 204
    assert world.call("admin", "DELETE", f"{path}/{listed[0]['id']}").status_code == 404
    assert world.call("admin", "GET", path).json() == []


def test_the_skipped_filter_over_http_carries_the_reasons(world: World) -> None:
    task = queue.lease_next_task(
        world.db, project_id=world.project_id, user=world.users["annotator"]
    )
    queue.skip_task(world.db, task_id=task.id, user=world.users["annotator"], reason="ambiguous")
    found = world.call("reviewer", "GET", f"/projects/{world.project_id}/items?skipped=true")
    assert found.status_code == 200, found.text
    (item,) = found.json()["items"]
    assert item["skips"] == [{"user": "annotator", "reason": "ambiguous"}]
    page = _page_login(world, "reviewer").get(f"/projects/{world.project_id}/items?skipped=1").text
    assert "ambiguous" in page and "1 item" in page


def test_the_dashboard_says_the_verdict_in_plain_words_first(world: World) -> None:
    page = _page_login(world, "admin").get(f"/projects/{world.project_id}").text
    headline = page.split('id="verdict-headline">')[1].split("</h2>")[0]
    assert headline == "Keep labelling"
    words = page.split('id="verdict" class="verdict-words">')[1].split("</p>")[0]
    assert words == "No model has been trained yet."
    assert "Details: no model trained yet" in page
    table = page.split('<table id="annotators">')[1].split("</table>")[0]
    for column in ("rejected", "corrected", "skipped"):
        assert f">{column}</th>" in table
    assert "flagged unsure" not in table


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 200),
        ("annotator", 200),
        ("reviewer", 200),
        ("model", 403),
        ("outsider", 404),
        (None, 401),
    ],
)
def test_tokens_role_rules(world: World, who, status) -> None:
    item_id = browse.search_items(world.db, world.project_id).items[0].id
    response = world.call(who, "GET", f"/projects/{world.project_id}/items/{item_id}/tokens")
    assert response.status_code == status, response.text


def test_tokens_are_the_default_tokenizers_with_offsets(world: World) -> None:
    ingest.import_items(
        world.db,
        actor="cli:test",
        project=world.project_id,
        records=[{"id": "t1", "text": "I'm @anna in New-York, 3.5km!"}],
    )
    item_id = next(
        item.id
        for item in browse.search_items(world.db, world.project_id, text="anna").items
        if item.external_id == "t1"
    )
    response = world.call(
        "annotator", "GET", f"/projects/{world.project_id}/items/{item_id}/tokens"
    )
    assert response.status_code == 200, response.text
    found = response.json()
    text = found["text"]
    assert [text[a:b] for a, b in found["tokens"]] == [
        "I'm", "@anna", "in", "New-York", ",", "3.5km", "!"
    ]  # fmt: skip
    ingest.import_items(
        world.db, actor="cli:test", project=world.other_id, records=[{"id": "o1", "text": "x"}]
    )
    other_item = browse.search_items(world.db, world.other_id).items[0].id
    missing = world.call("admin", "GET", f"/projects/{world.project_id}/items/{other_item}/tokens")
    assert missing.status_code == 404


def test_item_tokens_of_an_item_without_text(database: Database) -> None:
    project = projects.create_project(
        database, actor="cli:test", name="rows", task_type="tabular", labels=["a", "b"]
    )
    ingest.import_items(
        database, actor="cli:test", project=project.id, records=[{"id": "r1", "x": 1.0}]
    )
    item_id = browse.search_items(database, project.id).items[0].id
    found = browse.item_tokens(database, project_id=project.id, item_id=item_id)
    assert (found.text, found.tokens) == ("", [])
    with pytest.raises(NotFoundError):
        browse.item_tokens(database, project_id=project.id, item_id=item_id + 1000)
