"""The role matrix: every endpoint x every kind of caller.

Allowed callers succeed; the others get 401 (no or bad token), 403 (wrong role) or 404
(a project they are not a member of), with the JSON error body and no project data in it.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from labelloop.store.db import Database

API = "/api/v1"
CALLERS = (None, "bad", "admin", "annotator", "reviewer", "model", "outsider")
HUMANS = frozenset({"admin", "annotator", "reviewer"})
MEMBERS = HUMANS | {"model"}
_names = itertools.count()


@dataclass(frozen=True)
class Endpoint:
    """``request(world, who)`` -> (method, path, kwargs); ``allowed`` roles get ``ok``."""

    name: str
    request: Callable
    allowed: frozenset[str]
    ok: tuple[int, ...] = (200,)


def _p(world) -> int:
    return world.project_id


def _leased_task(world, who: str) -> int:
    response = world.call(who, "POST", f"{API}/projects/{_p(world)}/tasks/next")
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _own_annotation(world, who: str) -> int:
    task = _leased_task(world, who)
    made = world.call(who, "POST", f"{API}/tasks/{task}/annotations", json={"label": "pos"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _a_task(world, who: str) -> int:
    # Allowed callers use their own lease; the others try a task leased by the annotator.
    return _leased_task(world, who if who in HUMANS else "annotator")


def _webhook(world) -> int:
    made = world.call(
        "admin",
        "POST",
        f"{API}/projects/{_p(world)}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["annotation.created"]},
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _token(world) -> int:
    made = world.call(
        "admin", "POST", f"{API}/tokens", json={"user_id": world.user_ids["annotator"]}
    )
    return made.json()["id"]


ENDPOINTS = (
    Endpoint(
        "me",
        lambda w, who: ("GET", f"{API}/auth/me", {}),
        MEMBERS | {"outsider"},
    ),
    Endpoint(
        "list projects",
        lambda w, who: ("GET", f"{API}/projects", {}),
        MEMBERS | {"outsider"},
    ),
    Endpoint("get project", lambda w, who: ("GET", f"{API}/projects/{_p(w)}", {}), MEMBERS),
    Endpoint(
        "create project",
        lambda w, who: (
            "POST",
            f"{API}/projects",
            {"json": {"name": f"p{next(_names)}", "task_type": "tabular", "labels": ["a", "b"]}},
        ),
        frozenset({"admin"}),
        ok=(201,),
    ),
    Endpoint(
        "settings",
        lambda w, who: ("PATCH", f"{API}/projects/{_p(w)}/settings", {"json": {"batch_size": 7}}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "get guidelines", lambda w, who: ("GET", f"{API}/projects/{_p(w)}/guidelines", {}), HUMANS
    ),
    Endpoint(
        "put guidelines",
        lambda w, who: ("PUT", f"{API}/projects/{_p(w)}/guidelines", {"json": {"text": "v2"}}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "import items",
        lambda w, who: (
            "POST",
            f"{API}/projects/{_p(w)}/items",
            {"json": {"records": [{"id": f"n{next(_names)}", "text": "new"}]}},
        ),
        frozenset({"admin"}),
        ok=(201,),
    ),
    Endpoint(
        "lease task", lambda w, who: ("POST", f"{API}/projects/{_p(w)}/tasks/next", {}), HUMANS
    ),
    Endpoint(
        "skip task",
        lambda w, who: ("POST", f"{API}/tasks/{_a_task(w, who)}/skip", {"json": {"reason": "r"}}),
        HUMANS,
        ok=(204,),
    ),
    Endpoint(
        "submit",
        lambda w, who: (
            "POST",
            f"{API}/tasks/{_a_task(w, who)}/annotations",
            {"json": {"label": "pos"}},
        ),
        HUMANS,
        ok=(201,),
    ),
    Endpoint(
        "undo",
        lambda w, who: (
            "POST",
            f"{API}/annotations/{_own_annotation(w, who if who in HUMANS else 'annotator')}/undo",
            {},
        ),
        HUMANS,
    ),
    Endpoint(
        "lease review",
        lambda w, who: ("POST", f"{API}/projects/{_p(w)}/reviews/next", {}),
        frozenset({"admin", "reviewer"}),
        ok=(200, 204),
    ),
    Endpoint(
        "agreement", lambda w, who: ("GET", f"{API}/projects/{_p(w)}/metrics/agreement", {}), HUMANS
    ),
    Endpoint("status", lambda w, who: ("GET", f"{API}/projects/{_p(w)}/status", {}), HUMANS),
    Endpoint(
        "push predictions",
        lambda w, who: (
            "POST",
            f"{API}/projects/{_p(w)}/predictions",
            {
                "json": {
                    "model_version": "v1",
                    "predictions": [{"item_id": "r1", "probabilities": {"pos": 0.6, "neg": 0.4}}],
                }
            },
        ),
        frozenset({"admin", "model"}),
    ),
    Endpoint(
        "labels",
        lambda w, who: ("GET", f"{API}/projects/{_p(w)}/labels", {}),
        frozenset({"admin", "model"}),
    ),
    Endpoint("rounds", lambda w, who: ("GET", f"{API}/projects/{_p(w)}/rounds", {}), MEMBERS),
    Endpoint(
        "auto-labels", lambda w, who: ("GET", f"{API}/projects/{_p(w)}/auto-labels", {}), MEMBERS
    ),
    Endpoint(
        "resume auto-labelling",
        lambda w, who: ("POST", f"{API}/projects/{_p(w)}/auto-labels/resume", {}),
        frozenset({"admin"}),
        ok=(422,),  # past the guard, refused: this project's auto-labelling is not paused
    ),
    Endpoint(
        "retrain",
        lambda w, who: ("POST", f"{API}/projects/{_p(w)}/retrain", {}),
        frozenset({"admin"}),
        ok=(202,),
    ),
    Endpoint(
        "jobs", lambda w, who: ("GET", f"{API}/projects/{_p(w)}/jobs", {}), frozenset({"admin"})
    ),
    Endpoint(
        "list webhooks",
        lambda w, who: ("GET", f"{API}/projects/{_p(w)}/webhooks", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "register webhook",
        lambda w, who: (
            "POST",
            f"{API}/projects/{_p(w)}/webhooks",
            {"json": {"url": "http://127.0.0.1:9/x", "events": ["batch.ready"]}},
        ),
        frozenset({"admin"}),
        ok=(201,),
    ),
    Endpoint(
        "delete webhook",
        lambda w, who: ("DELETE", f"{API}/projects/{_p(w)}/webhooks/{_webhook(w)}", {}),
        frozenset({"admin"}),
        ok=(204,),
    ),
    Endpoint(
        "deliveries",
        lambda w, who: ("GET", f"{API}/projects/{_p(w)}/webhooks/{_webhook(w)}/deliveries", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "list users",
        lambda w, who: ("GET", f"{API}/users", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "create user",
        lambda w, who: (
            "POST",
            f"{API}/users",
            {"json": {"name": f"u{next(_names)}", "role": "annotator"}},
        ),
        frozenset({"admin"}),
        ok=(201,),
    ),
    Endpoint(
        "get user",
        lambda w, who: ("GET", f"{API}/users/{w.user_ids['model']}", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "list tokens",
        lambda w, who: ("GET", f"{API}/tokens", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "create token",
        lambda w, who: ("POST", f"{API}/tokens", {"json": {"user_id": w.user_ids["reviewer"]}}),
        frozenset({"admin"}),
        ok=(201,),
    ),
    Endpoint(
        "revoke token",
        lambda w, who: ("DELETE", f"{API}/tokens/{_token(w)}", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "members",
        lambda w, who: ("GET", f"{API}/projects/{_p(w)}/members", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "add member",
        lambda w, who: (
            "POST",
            f"{API}/projects/{_p(w)}/members",
            {"json": {"user_id": w.user_ids["spare"]}},
        ),
        frozenset({"admin"}),
    ),
    Endpoint(
        "remove member",
        lambda w, who: ("DELETE", f"{API}/projects/{_p(w)}/members/{w.user_ids['outsider']}", {}),
        frozenset({"admin"}),
    ),
    Endpoint(
        "media",
        lambda w, who: ("GET", f"{API}/projects/{w.media_project_id}/items/photo.png/media", {}),
        HUMANS,
    ),
)


def _denied_status(endpoint: Endpoint, who: str | None) -> tuple[int, ...]:
    if who in (None, "bad"):
        return (401,)
    if who == "outsider":
        role_allowed = "annotator" in endpoint.allowed
        # A project, task or annotation in a project the outsider is not in: not found.
        return (404,) if role_allowed else (403,)
    return (403,)


@pytest.fixture(scope="module")
def matrix_world(tmp_path_factory: pytest.TempPathFactory, _sqlite_template, world_builder):
    """One world for the whole matrix (the calls leave it usable for the next ones)."""
    from labelloop.engine import ingest, projects, users

    root = tmp_path_factory.mktemp("matrix")
    shutil.copyfile(_sqlite_template, root / "labelloop.db")
    db = Database(f"sqlite:///{root / 'labelloop.db'}")
    media_root = root / "media"
    media_root.mkdir()
    (media_root / "photo.png").write_bytes(b"png")
    world = world_builder(db, media_root)
    pictures = projects.create_project(
        db, actor="cli:test", name="pictures", task_type="image", labels=["cat", "dog"]
    )
    ingest.import_items(db, actor="cli:test", project=pictures.id, path=media_root)
    for role in ("admin", "annotator", "reviewer", "model"):
        users.add_member(db, actor="cli:test", project=pictures.id, user=world.user_ids[role])
    spare, _token = users.create_user(db, actor="cli:test", name="spare", role="annotator")
    world.user_ids["spare"] = spare.id
    world.media_project_id = pictures.id
    with world.client:
        yield world
    db.dispose()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_role_matrix(matrix_world, endpoint: Endpoint) -> None:
    world = matrix_world
    for who in CALLERS:
        method, path, kwargs = endpoint.request(world, who)
        response = world.call(who, method, path, **kwargs)
        where = f"{endpoint.name} as {who}: {response.status_code} {response.text[:300]}"
        allowed = who in endpoint.allowed
        if allowed:
            assert response.status_code in endpoint.ok, where
            continue
        assert response.status_code in _denied_status(endpoint, who), where
        body = response.json()
        assert set(body) == {"error", "detail", "field"}, where
        assert "review number" not in response.text, where
        assert "reviews" not in body["detail"], where
