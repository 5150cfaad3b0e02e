"""The REST API through the real app: auth, errors, labelling, idempotency, leases, media."""

from __future__ import annotations

import time

import pytest

from labelloop.exceptions import ValidationError
from labelloop.server import ServerSettings, create_app

PASSWORD = "correct horse battery"

API = "/api/v1"


def _error_shape(response) -> dict:
    body = response.json()
    assert set(body) == {"error", "detail", "field"}, body
    return body


# --------------------------------------------------------------------------- basics


def test_healthz_and_openapi_need_no_token(world) -> None:
    assert world.client.get("/healthz").json()["status"] == "ok"
    schema = world.client.get("/openapi.json").json()
    assert f"{API}/projects/{{project_id}}/tasks/next" in schema["paths"]


def test_create_app_builds_nothing_shared(sqlite_db, tmp_path) -> None:
    first = create_app(ServerSettings(), db=sqlite_db)
    second = create_app(ServerSettings(max_body_bytes=10), db=sqlite_db)
    assert first is not second
    assert first.state.settings.max_body_bytes != second.state.settings.max_body_bytes


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError) as caught:
        ServerSettings(max_items_per_request=0)
    assert caught.value.field == "max_items_per_request"
    with pytest.raises(ValidationError):
        ServerSettings(model_url="ftp://example.org")
    given = ServerSettings(media_root="/srv/media", lease_seconds=30, worker=True)
    assert ServerSettings.from_json(given.to_json()) == given
    with pytest.raises(ValidationError) as caught:
        ServerSettings.from_json('{"colour": 1}')
    assert caught.value.field == "colour"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer ll_nope"}, {"Authorization": "Basic abc"}],
    ids=["missing", "unknown", "not-bearer"],
)
def test_unknown_callers_get_401(world, headers: dict) -> None:
    response = world.client.get(f"{API}/projects", headers=headers)
    assert response.status_code == 401
    assert _error_shape(response)["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_project_list_is_the_callers_own(world) -> None:
    names = [p["name"] for p in world.call("annotator", "GET", f"{API}/projects").json()]
    assert names == ["reviews"]
    names = [p["name"] for p in world.call("outsider", "GET", f"{API}/projects").json()]
    assert names == ["other"]
    every = world.call("admin", "GET", f"{API}/projects").json()
    assert {p["name"] for p in every} == {"reviews", "other"}
    first = next(p for p in every if p["name"] == "reviews")
    assert (first["n_items"], first["n_open"], first["n_labelled"]) == (40, 40, 0)


def test_non_members_get_404_with_no_data(world) -> None:
    response = world.call("outsider", "GET", f"{API}/projects/{world.project_id}")
    assert response.status_code == 404
    assert "reviews" not in response.text
    missing = world.call("outsider", "GET", f"{API}/projects/999999")
    assert missing.status_code == 404
    assert missing.json()["detail"].replace("999999", "X") == response.json()["detail"].replace(
        str(world.project_id), "X"
    )


def test_wrong_role_with_a_bad_body_gets_403_not_422(world) -> None:
    for body in (b"{not json", b'{"name": 3, "unknown": true}'):
        response = world.call(
            "annotator",
            "POST",
            f"{API}/projects",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 403, response.text
    response = world.call(
        "model",
        "POST",
        f"{API}/tasks/1/annotations",
        content=b"[[[",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 403


def test_bodies_reject_unknown_fields_and_name_the_field(world) -> None:
    response = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={"name": "x", "task_type": "classification", "labels": ["a", "b"], "colour": 1},
    )
    assert response.status_code == 422
    assert _error_shape(response)["field"] == "colour"
    response = world.call(
        "admin", "PATCH", f"{API}/projects/{world.project_id}/settings", json={"overlap": 0}
    )
    assert response.status_code == 422
    assert _error_shape(response)["field"] == "overlap"
    response = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        content=b"{broken",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert _error_shape(response)["field"] == "body"


def test_body_size_and_item_count_are_capped(make_world) -> None:
    world = make_world(n_items=2, max_body_bytes=2000, max_items_per_request=3)
    big = {"records": [{"id": f"x{i}", "text": "y" * 100} for i in range(30)]}
    response = world.call("admin", "POST", f"{API}/projects/{world.project_id}/items", json=big)
    assert response.status_code == 413
    assert _error_shape(response)["error"] == "payload_too_large"

    def chunks():
        for _ in range(30):
            yield b" " * 100

    streamed = world.call(
        "admin",
        "POST",
        f"{API}/projects/{world.project_id}/items",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413
    # Access comes first: an unknown caller or a wrong role never learns the size rule.
    for who, status in ((None, 401), ("annotator", 403)):
        refused = world.call(
            who,
            "POST",
            f"{API}/projects/{world.project_id}/items",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert refused.status_code == status, refused.text
        declared = world.call(who, "POST", f"{API}/projects/{world.project_id}/items", json=big)
        assert declared.status_code == status, declared.text
    four = {"records": [{"id": f"x{i}", "text": "y"} for i in range(4)]}
    response = world.call("admin", "POST", f"{API}/projects/{world.project_id}/items", json=four)
    assert response.status_code == 413
    assert response.json()["field"] == "records"
    bad_label = {"records": [{"id": "x0", "text": "y"}, {"id": "x1", "text": "y", "label": "?"}]}
    response = world.call(
        "admin", "POST", f"{API}/projects/{world.project_id}/items", json=bad_label
    )
    assert (response.status_code, response.json()["field"]) == (422, "records.1.label")


def test_admin_creates_project_imports_and_edits_guidelines(world) -> None:
    created = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={"name": "tickets", "task_type": "classification", "labels": ["bug", "idea"]},
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    duplicate = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={"name": "tickets", "task_type": "classification", "labels": ["bug", "idea"]},
    )
    assert duplicate.status_code == 409
    imported = world.call(
        "admin",
        "POST",
        f"{API}/projects/{project_id}/items",
        json={"records": [{"id": "t1", "text": "crash"}, {"id": "t2", "text": "dark mode"}]},
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["n_imported"] == 2
    empty = world.call("admin", "GET", f"{API}/projects/{project_id}/guidelines").json()
    assert (empty["version"], empty["text"]) == (0, "")
    put = world.call(
        "admin", "PUT", f"{API}/projects/{project_id}/guidelines", json={"text": "# Bugs"}
    )
    assert put.json()["version"] == 1
    changed = world.call(
        "admin", "PATCH", f"{API}/projects/{project_id}/settings", json={"overlap": 2}
    )
    assert changed.json()["settings"]["overlap"] == 2


def test_new_users_and_new_tokens_give_the_secret_under_the_same_key(world) -> None:
    made = world.call(
        "admin", "POST", f"{API}/users", json={"name": "carol", "role": "annotator"}
    ).json()
    assert set(made) == {"user", "token"} and made["user"]["name"] == "carol"
    extra = world.call(
        "admin", "POST", f"{API}/tokens", json={"user_id": made["user"]["id"], "name": "ci"}
    ).json()
    assert (extra["user_name"], extra["name"]) == ("carol", "ci")
    listed = world.call("admin", "GET", f"{API}/tokens?user_id={made['user']['id']}").json()
    assert extra["id"] == listed[-1]["id"] and "token" not in listed[-1]
    for secret in (made["token"], extra["token"]):
        me = world.client.get(f"{API}/projects", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200


# --------------------------------------------------------------------------- labelling


def test_lease_submit_and_counts(world) -> None:
    url = f"{API}/projects/{world.project_id}/tasks/next"
    task = world.call("annotator", "POST", url).json()
    again = world.call("annotator", "POST", url).json()
    assert again["id"] == task["id"]  # asking again does not hoard tasks
    assert task["item"]["payload"]["text"].startswith("review number")
    response = world.call(
        "annotator",
        "POST",
        f"{API}/tasks/{task['id']}/annotations",
        json={"label": "pos", "time_spent_ms": 1200},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["label"], body["final_label"], body["item_status"]) == ("pos", "pos", "annotated")
    project = world.call("annotator", "GET", f"{API}/projects/{world.project_id}").json()
    assert project["n_labelled"] == 1
    bad = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "meh"}
    )
    assert bad.status_code in (409, 422)


def test_settings_that_can_never_train_are_422_naming_the_setting(world) -> None:
    created = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={"name": "c", "task_type": "classification", "labels": ["a", "b"],
              "strategy": "kl_disagreement"},
    )  # fmt: skip
    assert created.status_code == 422
    assert _error_shape(created)["field"] == "strategy"
    settings = f"{API}/projects/{world.project_id}/settings"
    svc = world.call("admin", "PATCH", settings, json={"model": "sklearn.svm:SVC"})
    assert svc.status_code == 422
    assert _error_shape(svc)["field"] == "model" and "predict_proba" in svc.json()["detail"]
    committee = world.call("admin", "PATCH", settings, json={"strategy": "bald"})
    assert committee.status_code == 422 and _error_shape(committee)["field"] == "strategy"
    forest = "sklearn.ensemble:RandomForestClassifier"
    both = world.call("admin", "PATCH", settings, json={"strategy": "bald", "model": forest})
    assert both.status_code == 200 and both.json()["strategy"] == "bald"


def test_unknown_label_is_422_naming_label(world) -> None:
    task = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next").json()
    response = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "maybe"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "label"


def test_idempotent_submit_answers_the_original(world) -> None:
    task = world.call("annotator", "POST", f"{API}/projects/{world.project_id}/tasks/next").json()
    url = f"{API}/tasks/{task['id']}/annotations"
    headers = {"Idempotency-Key": "submit-1"}
    first = world.call("annotator", "POST", url, json={"label": "neg"}, headers=headers)
    retry = world.call("annotator", "POST", url, json={"label": "neg"}, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    changed = world.call("annotator", "POST", url, json={"label": "pos"}, headers=headers)
    assert changed.status_code == 409
    assert "'submit-1'" in _error_shape(changed)["detail"]
    project = world.call("admin", "GET", f"{API}/projects/{world.project_id}").json()
    assert project["n_labelled"] == 1


def test_skip_requeues_for_others_and_undo_reopens(world) -> None:
    url = f"{API}/projects/{world.project_id}/tasks/next"
    task = world.call("annotator", "POST", url).json()
    skipped = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/skip", json={"reason": "unclear"}
    )
    assert skipped.status_code == 204
    assert world.call("annotator", "POST", url).json()["id"] != task["id"]
    assert world.call("reviewer", "POST", url).json()["id"] == task["id"]
    no_reason = world.call("annotator", "POST", f"{API}/tasks/{task['id']}/skip", json={})
    assert no_reason.status_code == 422

    mine = world.call("annotator", "POST", url).json()
    made = world.call(
        "annotator", "POST", f"{API}/tasks/{mine['id']}/annotations", json={"label": "pos"}
    ).json()
    foreign = world.call("reviewer", "POST", f"{API}/annotations/{made['id']}/undo")
    assert foreign.status_code == 403
    undone = world.call("annotator", "POST", f"{API}/annotations/{made['id']}/undo")
    assert undone.status_code == 200
    assert (undone.json()["status"], undone.json()["item_status"]) == ("undone", "open")
    twice = world.call("annotator", "POST", f"{API}/annotations/{made['id']}/undo")
    assert twice.status_code == 409


def test_nothing_open_answers_204(make_world) -> None:
    world = make_world(n_items=1)
    url = f"{API}/projects/{world.project_id}/tasks/next"
    task = world.call("annotator", "POST", url).json()
    world.call("annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "pos"})
    response = world.call("annotator", "POST", url)
    assert response.status_code == 204
    assert response.content == b""


def test_an_expired_lease_goes_back_to_the_queue(make_world) -> None:
    world = make_world(n_items=1, lease_seconds=1)
    url = f"{API}/projects/{world.project_id}/tasks/next"
    task = world.call("annotator", "POST", url).json()
    assert world.call("reviewer", "POST", url).status_code == 204
    time.sleep(1.2)
    taken = world.call("reviewer", "POST", url)
    assert taken.status_code == 200
    assert taken.json()["id"] == task["id"]
    late = world.call(
        "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "pos"}
    )
    assert late.status_code == 409
    assert _error_shape(late)["error"] == "conflict"


# --------------------------------------------------------------------------- cookie sessions


def test_cookie_session_needs_csrf_on_writes(world) -> None:
    client = world.client
    wrong = client.post(f"{API}/auth/login", json={"name": "annotator", "password": "nope"})
    assert wrong.status_code == 401
    login = client.post(f"{API}/auth/login", json={"name": "annotator", "password": PASSWORD})
    assert login.status_code == 200
    csrf = login.json()["csrf_token"]
    assert "httponly" in login.headers["set-cookie"].lower()
    assert client.get(f"{API}/projects").status_code == 200  # reads need no CSRF token
    url = f"{API}/projects/{world.project_id}/tasks/next"
    assert client.post(url).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get(f"{API}/auth/me").json()["csrf_token"] == csrf
    out = client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    client.cookies.clear()
    assert client.get(f"{API}/projects").status_code == 401


# --------------------------------------------------------------------------- media


def test_media_is_served_only_from_the_media_root(world) -> None:
    assert world.media_root is not None
    (world.media_root / "cat.png").write_bytes(b"\x89PNG fake")
    (world.media_root.parent / "secret.txt").write_text("top secret")
    created = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={
            "name": "pictures",
            "task_type": "image",
            "labels": ["cat", "dog"],
            "settings": {"media_root": str(world.media_root)},
        },
    ).json()
    projects_id = created["id"]
    from labelloop.engine import ingest

    ingest.import_items(
        world.db,
        actor="cli:test",
        project=projects_id,
        path=world.media_root,
    )
    ok = world.call("admin", "GET", f"{API}/projects/{projects_id}/items/cat.png/media")
    assert ok.status_code == 200
    assert ok.content == b"\x89PNG fake"
    for bad in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e/secret.txt", "nope.png"):
        response = world.call("admin", "GET", f"{API}/projects/{projects_id}/items/{bad}/media")
        assert response.status_code in (400, 404), bad
        assert "top secret" not in response.text
    outsider = world.call("outsider", "GET", f"{API}/projects/{projects_id}/items/cat.png/media")
    assert outsider.status_code == 404


# --------------------------------------------------------------------------- client models


def test_a_small_confident_push_stays_under_the_uncertain_pool(world) -> None:
    p = world.project_id

    def push(version: str, entries: dict[str, float]) -> dict:
        response = world.call(
            "model",
            "POST",
            f"{API}/projects/{p}/predictions",
            json={
                "model_version": version,
                "predictions": [
                    {"item_id": item, "probabilities": {"pos": q, "neg": 1 - q}}
                    for item, q in entries.items()
                ],
            },
        )
        assert response.status_code == 200, response.text
        return response.json()

    uncertain = {f"r{i}": 0.45 + i / 200 for i in range(20)}
    push("a", uncertain)
    push("b", {"r30": 0.99, "r31": 0.01})
    for _ in range(len(uncertain)):
        task = world.call("annotator", "POST", f"{API}/projects/{p}/tasks/next").json()
        assert task["item"]["external_id"] in uncertain
        world.call(
            "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "pos"}
        )


def test_pushed_predictions_reprioritise_and_labels_page(world) -> None:
    p = world.project_id
    pushed = world.call(
        "model",
        "POST",
        f"{API}/projects/{p}/predictions",
        json={
            "model_version": "client-7",
            "predictions": [
                {"item_id": f"r{i}", "probabilities": {"pos": 0.5 + i / 100, "neg": 0.5 - i / 100}}
                for i in range(10)
            ],
        },
    )
    assert pushed.status_code == 200, pushed.text
    report = pushed.json()
    assert report["model_name"] == "client-7"
    assert report["batch"][0] == "r0"  # the most uncertain item
    task = world.call("annotator", "POST", f"{API}/projects/{p}/tasks/next").json()
    assert task["item"]["external_id"] == "r0"
    bad = world.call(
        "model",
        "POST",
        f"{API}/projects/{p}/predictions",
        json={"model_version": "v", "predictions": [{"item_id": "r1", "probabilities": {"x": 1}}]},
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "predictions.0.probabilities"
    fourth_unknown = [
        {"item_id": f"r{i}", "probabilities": {"pos": 0.5, "neg": 0.5}} for i in (1, 2, 3)
    ]
    fourth_unknown.append({"item_id": "nope", "probabilities": {"pos": 0.5, "neg": 0.5}})
    bad = world.call(
        "model",
        "POST",
        f"{API}/projects/{p}/predictions",
        json={"model_version": "v", "predictions": fourth_unknown},
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "predictions.3.item_id")

    made = []
    for _ in range(3):
        task = world.call("annotator", "POST", f"{API}/projects/{p}/tasks/next").json()
        made.append(
            world.call(
                "annotator", "POST", f"{API}/tasks/{task['id']}/annotations", json={"label": "pos"}
            ).json()
        )
    first = world.call("model", "GET", f"{API}/projects/{p}/labels", params={"limit": 2}).json()
    assert first["has_more"] and len(first["labels"]) == 2
    assert first["labels"][0] == {"item_id": made[0]["item_external_id"], "label": "pos"}
    rest = world.call(
        "model", "GET", f"{API}/projects/{p}/labels", params={"since": first["next_cursor"]}
    ).json()
    assert len(rest["labels"]) == 1 and not rest["has_more"]
    later = world.call(
        "model", "GET", f"{API}/projects/{p}/labels", params={"since": rest["next_cursor"]}
    ).json()
    assert later["labels"] == []
    # A label undone after it was read comes back as a withdrawal, after the same cursor.
    undone = world.call("annotator", "POST", f"{API}/annotations/{made[0]['id']}/undo")
    assert undone.status_code == 200, undone.text
    withdrawn = world.call(
        "model", "GET", f"{API}/projects/{p}/labels", params={"since": rest["next_cursor"]}
    ).json()
    assert withdrawn["labels"] == [{"item_id": made[0]["item_external_id"], "withdrawn": True}]
    garbage = world.call("model", "GET", f"{API}/projects/{p}/labels", params={"since": "%%%"})
    assert garbage.status_code == 422


def test_rounds_and_status_keep_the_strategy_state_to_the_engine(world) -> None:
    from labelloop.engine import rounds
    from labelloop.engine.annotate import record_annotation

    p = world.project_id
    for i in range(12):
        label = "pos" if i % 2 == 0 else "neg"
        record_annotation(world.db, actor="ann", project=p, external_id=f"r{i}", label=label)
    trained = rounds.train(world.db, actor="cli:test", project=p)
    assert trained.metrics["strategy_state"]
    listed = world.call("admin", "GET", f"{API}/projects/{p}/rounds").json()
    status = world.call("admin", "GET", f"{API}/projects/{p}/status").json()
    for public in (listed[0], status["rounds"][0]):
        assert "strategy_state" not in public["metrics"]
        assert public["batch"] == list(trained.batch)
    assert rounds.list_rounds(world.db, p)[0].metrics["strategy_state"]


def test_status_gives_each_evaluation_metric_its_n_and_interval(world) -> None:
    from labelloop.engine import rounds
    from labelloop.engine.ingest import import_items
    from labelloop.engine.projects import create_project, update_settings

    words = {"pos": ("good", "great", "fine"), "neg": ("bad", "awful", "poor")}
    records = []
    for i in range(60):
        label = "pos" if i % 2 == 0 else "neg"
        record = {"id": f"e{i}", "text": f"{words[label][i % 3]} {words[label][(i + 1) % 3]} {i}"}
        records.append({**record, "label": label} if i < 40 else record)
    settings = {"eval_share": 0.25, "eval_min": 0, "eval_min_labels": 1000}
    info = create_project(
        world.db, actor="cli:test", name="measured", task_type="classification",
        labels=["pos", "neg"], settings=settings,
    )  # fmt: skip
    import_items(world.db, actor="cli:test", project=info.id, records=records)
    rounds.train(world.db, actor="cli:test", project=info.id)
    below = world.call("admin", "GET", f"{API}/projects/{info.id}/status").json()
    n, needed = below["n_eval_labelled"], below["eval_needed"]
    assert needed == below["n_eval"] == 15 and 0 < n < needed
    assert below["eval_note"] == f"not enough evaluation labels yet ({n} of {needed})"
    assert below["verdict"] == f"keep labelling: {below['eval_note']}"
    metrics = below["rounds"][0]["metrics"]["eval"]
    low, high = metrics["accuracy_ci"]
    assert metrics["n"] == n and 0 <= low <= metrics["accuracy"] <= high <= 1
    update_settings(world.db, actor="cli:test", project=info.id, changes={"eval_min_labels": n})
    above = world.call("admin", "GET", f"{API}/projects/{info.id}/status").json()
    assert above["eval_needed"] == n and above["eval_note"] is None
    assert "not enough evaluation labels" not in above["verdict"]
