"""Against a real ``labelloop serve`` on loopback (two processes): concurrency, the client."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from loopback import serving

from labelloop.client import Client
from labelloop.engine import ingest, projects, users
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.db import Database

N_ANNOTATORS = 20
N_ITEMS = 120


class LiveServer:
    def __init__(self, url: str, db: Database, project_id: int, tokens: dict[str, str]):
        self.url, self.db, self.project_id, self.tokens = url, db, project_id, tokens


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, _sqlite_template) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("live")
    path = root / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    project = projects.create_project(
        db,
        actor="cli:test",
        name="live",
        task_type="classification",
        labels=["pos", "neg"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=project.id,
        records=[{"id": f"i{n}", "text": f"item {n}"} for n in range(N_ITEMS)],
    )
    tokens = {}
    for n in range(N_ANNOTATORS):
        _info, tokens[f"a{n}"] = users.create_user(
            db, actor="cli:test", name=f"a{n}", role="annotator", projects=[project.id]
        )
    _info, tokens["model"] = users.create_user(
        db, actor="cli:test", name="model", role="model", projects=[project.id]
    )
    _info, tokens["outsider"] = users.create_user(
        db, actor="cli:test", name="outsider", role="annotator"
    )
    try:
        with serving(
            f"sqlite:///{path}", root / "serve.log", "--no-worker", "--workers", "2"
        ) as url:
            yield LiveServer(url, db, project.id, tokens)
    finally:
        db.dispose()


def test_twenty_concurrent_annotators_never_share_a_task(live_server: LiveServer) -> None:
    leased: dict[str, list[int]] = {}
    statuses: Counter[int] = Counter()
    errors: list[BaseException] = []
    start = threading.Barrier(N_ANNOTATORS)

    def annotate(name: str) -> None:
        mine: list[int] = []
        headers = {"Authorization": f"Bearer {live_server.tokens[name]}"}
        try:
            with httpx.Client(
                base_url=live_server.url + "/api/v1", headers=headers, timeout=60
            ) as http:
                start.wait()
                while True:
                    got = http.post(f"/projects/{live_server.project_id}/tasks/next")
                    statuses[got.status_code] += 1
                    if got.status_code == 204:
                        break
                    task = got.json()
                    mine.append(task["id"])
                    made = http.post(
                        f"/tasks/{task['id']}/annotations",
                        json={"label": "pos" if len(mine) % 2 else "neg"},
                    )
                    statuses[made.status_code] += 1
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)
        leased[name] = mine

    threads = [threading.Thread(target=annotate, args=(f"a{n}",)) for n in range(N_ANNOTATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    every = [task for tasks in leased.values() for task in tasks]
    assert len(every) == len(set(every)) == N_ITEMS  # each task leased once, all done
    assert set(statuses) <= {200, 201, 204}, statuses
    info = projects.get_project_info(live_server.db, live_server.project_id)
    assert (info.n_labelled, info.n_open) == (N_ITEMS, 0)


def test_python_client_over_http(live_server: LiveServer) -> None:
    with Client(live_server.url, live_server.tokens["a0"]) as client:
        [project] = client.projects()
        assert project["id"] == live_server.project_id
        assert client.next_task(project["id"]) is None  # all labelled by the test above
        with pytest.raises(NotFoundError):
            client.submit(999_999, "pos")
        with pytest.raises(ValidationError) as caught:
            client.skip(1, "")
        assert caught.value.field == "reason"
        with pytest.raises(NotFoundError):
            client.project(project["id"] + 1000)
    with Client(live_server.url, live_server.tokens["model"]) as client:
        rows = list(client.labels(live_server.project_id, page_size=50))
        assert len(rows) == N_ITEMS
        assert len({row["item_id"] for row in rows}) == N_ITEMS
        assert list(client.labels(live_server.project_id, since=client.last_cursor)) == []
        [report] = client.push_predictions(
            live_server.project_id,
            "v1",
            [{"item_id": "i0", "probabilities": {"pos": 0.3, "neg": 0.7}}],
        )
        assert report["n_predictions"] == 1
    with Client(live_server.url, live_server.tokens["outsider"]) as client:
        assert client.projects() == []
        with pytest.raises(NotFoundError):
            client.next_task(live_server.project_id)


def test_access_is_checked_before_a_chunked_body_is_read(live_server: LiveServer) -> None:
    def nine_megabytes() -> Iterator[bytes]:
        for _ in range(9 * 16):
            yield b" " * (1 << 16)

    url = f"{live_server.url}/api/v1/projects/{live_server.project_id}/predictions"
    answers = {}
    for who in (None, "a0", "model"):
        headers = {"content-type": "application/json"}
        if who is not None:
            headers["Authorization"] = f"Bearer {live_server.tokens[who]}"
        response = httpx.post(url, content=nine_megabytes(), headers=headers, timeout=60)
        assert response.request.headers["transfer-encoding"] == "chunked"
        answers[who] = (response.status_code, response.json()["error"])
    assert answers == {
        None: (401, "unauthorized"),
        "a0": (403, "forbidden"),
        "model": (413, "payload_too_large"),
    }


def test_python_client_offers_a_stream(live_server: LiveServer) -> None:
    with Client(live_server.url, live_server.tokens["model"]) as client:
        first = client.offer(live_server.project_id, {"id": "stream-1", "text": "fresh item"})
        assert first["decision"] in ("ask", "park") and first["arrivals"] == 1
        with pytest.raises(ConflictError):
            client.offer(live_server.project_id, {"id": "stream-1", "text": "again"})
        assert client.stream_status(live_server.project_id)["arrivals"] == 1
