"""Pull mode for entity and box projects: a Label Studio ML backend on loopback answers
``labels`` and ``rectanglelabels`` results, which become the items' spans and boxes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from labelloop.engine import ingest, projects
from labelloop.server.model_pull import ModelPuller
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow


class _Backend(BaseHTTPRequestHandler):
    """Answers as a Label Studio ML backend does: spans for texts naming Bob, a box per
    image, and malformed results for the items the test wants skipped."""

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append((self.path, request))
        if self.path == "/setup":
            self._answer({"model_version": "regions-1"})
            return
        results = []
        for task in request["tasks"]:
            data = task["data"]
            if "text" in data:
                text = data["text"]
                result = []
                if text.startswith("Bob"):
                    result.append(
                        {"from_name": "label", "to_name": "text", "type": "labels",
                         "value": {"start": 0, "end": 3, "text": "Bob", "labels": ["PER"]},
                         "score": 0.8}
                    )  # fmt: skip
                if text.startswith("bad"):  # text does not match the offsets: skipped
                    result.append(
                        {"from_name": "label", "to_name": "text", "type": "labels",
                         "value": {"start": 0, "end": 3, "text": "xyz", "labels": ["PER"]}}
                    )  # fmt: skip
                results.append({"model_version": "regions-1", "score": 0.5, "result": result})
            else:
                label = "cat" if data["path"].endswith("a.png") else "unicorn"
                results.append(
                    {"model_version": "regions-1", "result": [
                        {"from_name": "label", "to_name": "image", "type": "rectanglelabels",
                         "original_width": 200, "original_height": 50,
                         "value": {"x": 10, "y": 20, "width": 25, "height": 40, "rotation": 0,
                                   "rectanglelabels": [label]}, "score": 0.6}]}
                )  # fmt: skip
        self._answer({"results": results})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _structures(db, project_id: int) -> dict:
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, PredictionRow.structure, ModelVersionRow.name)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
            .where(PredictionRow.project_id == project_id)
        )
        return {external_id: (structure, name) for external_id, structure, name in rows}


def test_pull_mode_reads_spans_and_boxes_back(sqlite_db, tmp_path, backend) -> None:
    db = sqlite_db
    settings = {"eval_share": 0, "eval_min": 0, "retrain_every": 0, "eval_min_labels": 0}
    ner = projects.create_project(
        db, actor="cli:test", name="people", task_type="ner", labels=["PER"], settings=settings
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=ner.id,
        records=[
            {"id": "a", "text": "Bob ran home"},
            {"id": "b", "text": "nobody here"},
            {"id": "c", "text": "bad result"},
        ],
    )
    images = tmp_path / "media"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, size=(50, 200, 3), dtype=np.uint8)).save(images / name)
    boxes = projects.create_project(
        db,
        actor="cli:test",
        name="pets",
        task_type="boxes",
        labels=["cat", "dog"],
        settings={**settings, "media_root": str(tmp_path)},
    )
    ingest.import_items(db, actor="cli:test", project=boxes.id, path=images)
    url = f"http://127.0.0.1:{backend.server_address[1]}/"
    puller = ModelPuller(db, url=url, batch_size=10, protocol="label-studio")
    try:
        assert puller.pull_once() == 5
    finally:
        puller.close()
    spans = _structures(db, ner.id)
    assert spans["a"] == ([{"start": 0, "end": 3, "label": "PER", "score": 0.8}], "regions-1")
    assert spans["b"] == ([], "regions-1")  # nothing found is a prediction too
    assert "c" not in spans  # a malformed result is skipped, not guessed at
    found = _structures(db, boxes.id)
    (box,) = found["a.png"][0]
    assert box["label"] == "cat" and box["score"] == pytest.approx(0.6)
    assert box["bbox"] == pytest.approx([20.0, 10.0, 70.0, 30.0])
    assert "b.png" not in found  # a label the project does not have: skipped
    paths = [path for path, _request in backend.requests]
    assert paths.count("/setup") == 2
    configs = [request["label_config"] for path, request in backend.requests if path == "/predict"]
    assert any('<Labels name="label" toName="text">' in c for c in configs)
    assert any('<RectangleLabels name="label" toName="image">' in c for c in configs)
