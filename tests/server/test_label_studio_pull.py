"""Pull mode against Label Studio ML backends: a real one from the backend SDK (in its own
virtual environment, ``make lsvenv``), and a small server following the documented
protocol, for the answers the SDK's example does not give."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from loopback import free_port
from sqlalchemy import select

from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow

LSVENV_PYTHON = Path(__file__).resolve().parents[2] / ".lsvenv" / "bin" / "python"

# A backend written with the ML backend SDK, as its README shows: a LabelStudioMLBase
# subclass whose predict answers one prediction per task, served by the SDK's app.
SDK_BACKEND = """
import sys
from label_studio_ml.api import init_app
from label_studio_ml.model import LabelStudioMLBase


class KeywordModel(LabelStudioMLBase):
    def predict(self, tasks, **kwargs):
        (from_name, info), = self.parsed_label_config.items()
        predictions = []
        for task in tasks:
            label = "pos" if "7" in task["data"]["text"] else "neg"
            predictions.append({
                "result": [{"from_name": from_name, "to_name": info["to_name"][0],
                            "type": "choices", "value": {"choices": [label]}}],
                "score": 0.8,
            })
        return predictions


app = init_app(model_class=KeywordModel, model_dir=sys.argv[2])
app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


# Deadlines for waiting only (a busy machine takes as long as it takes): they keep a
# backend or worker that never answers from hanging the suite.
WAIT_SECONDS = 600


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the ML backend exited:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            if httpx.get(f"{url}/health", timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the ML backend did not answer:\n{log.read_text()[-3000:]}", pytrace=False)


@pytest.fixture
def sdk_backend(tmp_path: Path) -> Iterator[str]:
    if not LSVENV_PYTHON.exists():
        pytest.skip("no .lsvenv with the Label Studio ML backend SDK: run `make lsvenv`")
    script = tmp_path / "model.py"
    script.write_text(SDK_BACKEND)
    (tmp_path / "models").mkdir()
    port = free_port()
    log = tmp_path / "backend.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(LSVENV_PYTHON), str(script), str(port), str(tmp_path / "models")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_predictions(world, n: int) -> list[PredictionRow]:
    deadline = time.monotonic() + WAIT_SECONDS
    rows: list[PredictionRow] = []
    while time.monotonic() < deadline:
        with world.db.read() as session:
            rows = list(
                session.execute(
                    select(PredictionRow).where(PredictionRow.project_id == world.project_id)
                ).scalars()
            )
        if len(rows) >= n:
            break
        time.sleep(0.1)
    return rows


def _model_names(world) -> list[str]:
    with world.db.read() as session:
        return list(
            session.execute(
                select(ModelVersionRow.name).where(ModelVersionRow.project_id == world.project_id)
            ).scalars()
        )


@pytest.mark.label_studio
def test_pull_mode_uses_a_real_sdk_backend(make_world, sdk_backend: str) -> None:
    world = make_world(
        n_items=12,
        worker=True,
        worker_poll_seconds=0.1,
        model_url=sdk_backend,
        model_protocol="label-studio",
        model_batch_size=5,
    )
    rows = _wait_for_predictions(world, 12)
    assert len(rows) == 12
    with world.db.read() as session:
        texts = {row.id: session.get(ItemRow, row.item_id).payload["text"] for row in rows}
    for row in rows:
        expected = "pos" if "7" in texts[row.id] else "neg"
        other = "neg" if expected == "pos" else "pos"
        assert row.probabilities == pytest.approx({expected: 0.8, other: 0.2})
    assert "INITIAL" in _model_names(world)


class _Backend(BaseHTTPRequestHandler):
    """A Label Studio ML backend as its documentation describes the API: /setup answers
    the model version, /predict one prediction per task in ``results``."""

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
            self._answer({"model_version": "keywords-2"})
            return
        results = []
        for task in request["tasks"]:
            text = task["data"]["text"]
            if text.endswith("3"):
                results.append({"result": [], "score": 0.5})  # no guess for this one
            else:
                choices = ["pos", "neg"] if text.endswith("1") else ["pos"]
                results.append(
                    {
                        "model_version": "keywords-2",
                        "score": 0.9,
                        "result": [
                            {
                                "from_name": "label",
                                "to_name": "text",
                                "type": "choices",
                                "value": {"choices": choices},
                                "score": 0.7,
                            }
                        ],
                    }
                )
        self._answer({"results": results})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def documented_backend() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_pull_mode_sends_label_studio_requests_and_reads_results(
    make_world, documented_backend: ThreadingHTTPServer
) -> None:
    url = f"http://127.0.0.1:{documented_backend.server_address[1]}/"
    world = make_world(
        n_items=10,
        worker=True,
        worker_poll_seconds=0.1,
        model_url=url,
        model_protocol="label-studio",
        model_batch_size=10,
    )
    # Items ending in 3 get no guess; ending in 1, two choices (single-label: skipped).
    rows = _wait_for_predictions(world, 8)
    assert len(rows) == 8
    for row in rows:
        assert row.probabilities == pytest.approx({"pos": 0.7, "neg": 0.3})
    paths = [path for path, _request in documented_backend.requests]
    assert paths[:2] == ["/setup", "/predict"]
    setup, predict = documented_backend.requests[0][1], documented_backend.requests[1][1]
    assert setup["project"].startswith(f"{world.project_id}.")
    assert '<Choices name="label" toName="text" choice="single">' in setup["schema"]
    assert set(predict) == {"tasks", "model_version", "project", "label_config", "params"}
    assert set(predict["tasks"][0]) == {"id", "data"}
    assert predict["tasks"][0]["data"] == {"text": "review number 0"}
    assert "keywords-2" in _model_names(world)
