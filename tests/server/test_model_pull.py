"""Pull mode: the worker asks a client model (a server in the test) and files its answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow

API = "/api/v1"


class _Model(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append(request)
        answer = {
            "model_version": "customer-v3",
            "predictions": [
                {"id": item["id"], "probabilities": {"pos": 0.9, "neg": 0.1}}
                for item in request["items"]
            ],
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def client_model() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_worker_pulls_predictions_in_batches(make_world, client_model) -> None:
    url = f"http://127.0.0.1:{client_model.server_address[1]}/predict"
    world = make_world(
        n_items=25, worker=True, worker_poll_seconds=0.1, model_url=url, model_batch_size=10
    )
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline:
        with world.db.read() as session:
            count = session.execute(
                select(func.count())
                .select_from(PredictionRow)
                .where(PredictionRow.project_id == world.project_id)
            ).scalar_one()
        if count >= 25:
            break
        time.sleep(0.1)
    assert count == 25
    sizes = [len(r["items"]) for r in client_model.requests if r["project_id"] == world.project_id]
    assert sizes[:3] == [10, 10, 5]
    first = next(r for r in client_model.requests if r["project_id"] == world.project_id)
    assert first["labels"] == ["pos", "neg"]
    assert set(first["items"][0]) == {"id", "payload"}
    with world.db.read() as session:
        names = (
            session.execute(
                select(ModelVersionRow.name).where(ModelVersionRow.project_id == world.project_id)
            )
            .scalars()
            .all()
        )
    assert names == ["customer-v3"]
    calls = len(client_model.requests)
    time.sleep(0.5)  # a full pass with no new labels: the model is not asked again
    assert len(client_model.requests) == calls


def test_items_imported_after_a_pass_are_sent_without_waiting_for_a_label(
    make_world, client_model
) -> None:
    from labelloop.engine.ingest import import_items
    from labelloop.server.model_pull import ModelPuller

    url = f"http://127.0.0.1:{client_model.server_address[1]}/predict"
    world = make_world(n_items=25)
    puller = ModelPuller(world.db, url=url, batch_size=10)
    try:
        while puller.pull_once():  # one full pass over both projects
            pass
        assert puller.pull_once() == 0  # nothing new: the model is not asked again
        asked = len(client_model.requests)
        import_items(
            world.db,
            actor="cli:lead",
            project=world.project_id,
            records=[{"id": f"late{i}", "text": f"a late review {i}"} for i in range(3)],
        )
        assert puller.pull_once() == 3
        sent = client_model.requests[asked:]
        assert [[item["id"] for item in r["items"]] for r in sent] == [["late0", "late1", "late2"]]
        assert puller.pull_once() == 0
    finally:
        puller.close()
    with world.db.read() as session:
        late = session.execute(
            select(func.count())
            .select_from(PredictionRow)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .where(ItemRow.external_id.like("late%"))
        ).scalar_one()
    assert late == 3
