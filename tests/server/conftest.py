"""Fixtures for the HTTP tests: a real app on a real SQLite file, users of every role.

``world`` builds one project of 40 text items with an admin, an annotator, a reviewer
and a model account as members, and an outsider (an annotator of another project);
``client`` talks to the real ASGI app in-process (FastAPI's TestClient over httpx).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labelloop.engine import ingest, projects, users
from labelloop.server import ServerSettings, create_app
from labelloop.store.db import Database

ROLES = ("admin", "annotator", "reviewer", "model")
PASSWORD = "correct horse battery"


@dataclass
class World:
    """The project, the users' tokens and a client per caller."""

    db: Database
    client: TestClient
    project_id: int
    other_project_id: int
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    media_root: Path | None = None

    def headers(self, who: str | None) -> dict[str, str]:
        """Authorization headers for a role name, "outsider", "bad", or None (anonymous)."""
        if who is None:
            return {}
        if who == "bad":
            return {"Authorization": "Bearer ll_not-a-real-token"}
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, who: str | None, method: str, path: str, **kwargs):
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def build_world(db: Database, media_root: Path, *, n_items: int = 40, **settings_kw) -> World:
    """Create the project, items and users on ``db`` and an app over it."""
    project = projects.create_project(
        db,
        actor="cli:test",
        name="reviews",
        task_type="classification",
        labels=["pos", "neg"],
        guidelines="Label the **sentiment**.",
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "media_root": "."},
    )
    other = projects.create_project(
        db, actor="cli:test", name="other", task_type="classification", labels=["a", "b"]
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=project.id,
        records=[{"id": f"r{i}", "text": f"review number {i}"} for i in range(n_items)],
    )
    world_tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    for role in ROLES:
        info, token = users.create_user(
            db,
            actor="cli:test",
            name=role,
            role=role,
            password=PASSWORD if role in ("annotator",) else None,
            projects=[project.id],
        )
        world_tokens[role], ids[role] = token, info.id
    info, token = users.create_user(
        db, actor="cli:test", name="outsider", role="annotator", projects=[other.id]
    )
    world_tokens["outsider"], ids["outsider"] = token, info.id
    settings = ServerSettings(media_root=media_root, **settings_kw)
    client = TestClient(create_app(settings, db=db))
    return World(
        db=db,
        client=client,
        project_id=project.id,
        other_project_id=other.id,
        tokens=world_tokens,
        user_ids=ids,
        media_root=media_root,
    )


@pytest.fixture(scope="session")
def world_builder():
    """`build_world` itself, for fixtures of a wider scope."""
    return build_world


@pytest.fixture
def make_world(sqlite_db: Database, tmp_path: Path) -> Iterator:
    """A factory: ``make_world(n_items=..., **server_settings)`` -> a started `World`."""
    started: list[World] = []

    def make(*, n_items: int = 40, **settings_kw) -> World:
        media_root = tmp_path / "media"
        media_root.mkdir(exist_ok=True)
        built = build_world(sqlite_db, media_root, n_items=n_items, **settings_kw)
        built.client.__enter__()
        started.append(built)
        return built

    yield make
    for built in started:
        built.client.__exit__(None, None, None)


@pytest.fixture
def world(make_world) -> World:
    """The default world: 40 items, default server settings."""
    return make_world()
