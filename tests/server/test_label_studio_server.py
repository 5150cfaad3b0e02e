"""A real Label Studio (the ``label-studio`` package, in its own virtual environment) with
labelloop connected as its ML backend, both on loopback.

Label Studio takes minutes to start on a fresh data directory (its migrations), so this
runs in ``make test-integration`` (which makes ``.lsstudio`` and sets
``LABELLOOP_INTEGRATION=1``), not in ``make test``.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loopback import free_port, serving
from sqlalchemy import select

from labelloop.engine import ingest, jobs, projects, rounds, users
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow

pytestmark = pytest.mark.integration

LABEL_STUDIO = Path(__file__).resolve().parents[2] / ".lsstudio" / "bin" / "label-studio"
LS_TOKEN = "0123456789abcdef0123456789abcdef01234567"
CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="sentiment" toName="text" choice="single">'
    '<Choice value="positive"/><Choice value="negative"/></Choices></View>'
)


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    if os.environ.get("LABELLOOP_INTEGRATION") != "1":
        pytest.skip("a real Label Studio takes minutes to start: run `make test-integration`")
    if not LABEL_STUDIO.exists():
        pytest.skip("no .lsstudio with the label-studio package: run `make test-integration`")
    data = tmp_path_factory.mktemp("label-studio-data")
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        # labelloop listens on loopback here, which Label Studio refuses by default.
        "SSRF_PROTECTION_ENABLED": "false",
        "USE_DEFAULT_BANNED_SUBNETS": "false",
        # Label Studio gives an ML backend 1 s for /health, 3 s for /setup and a webhook
        # 1 s (and does not send it again): too little for either server on a machine
        # busy with other work, where a late answer made the test fail far from its cause.
        "ML_TIMEOUT_HEALTH": "60",
        "ML_TIMEOUT_SETUP": "60",
        "WEBHOOK_TIMEOUT": "60",
    }
    log = data / "label-studio.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(LABEL_STUDIO), "start", "--no-browser", "--host", "127.0.0.1",
                "--port", str(port), "--username", "admin@example.com",
                "--password", "labelloop-test", "--user-token", LS_TOKEN,
            ],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while True:
            if process.poll() is not None:
                pytest.fail(f"Label Studio exited:\n{log.read_text()[-3000:]}", pytrace=False)
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Label Studio did not start:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Token {LS_TOKEN}"}, timeout=120
        ) as client:
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def labelloop(tmp_path_factory, _sqlite_template) -> Iterator[tuple[str, Database, int, str, Path]]:
    root = tmp_path_factory.mktemp("labelloop-for-ls")
    path = root / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    project = projects.create_project(
        db, actor="cli:test", name="sentiment", task_type="classification",
        labels=["positive", "negative"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )  # fmt: skip
    records = [
        {
            "id": f"r{i}",
            "text": f"{'good great lovely' if i % 2 == 0 else 'bad awful boring'} film {i}",
            "label": "positive" if i % 2 == 0 else "negative",
        }
        for i in range(40)
    ]
    ingest.import_items(db, actor="cli:test", project=project.id, records=records)
    rounds.train(db, actor="cli:test", project=project.id)
    _info, token = users.create_user(
        db, actor="cli:test", name="label-studio", role="model", projects=[project.id]
    )
    try:
        with serving(f"sqlite:///{path}", root / "serve.log") as url:
            yield url, db, project.id, token, root / "serve.log"
    finally:
        db.dispose()


def _retrained(db: Database, project_id: int, serve_log: Path) -> jobs.JobInfo:
    """The project's retrain job once the server's worker has run it (done or failed).

    A retrain on a busy machine takes as long as it takes; the deadline only keeps a
    webhook that queued nothing, or a worker that never runs, from hanging the suite.
    """
    deadline = time.monotonic() + 900
    while True:
        retrains = [j for j in jobs.list_jobs(db, project_id=project_id) if j.kind == "retrain"]
        if retrains and retrains[0].status in ("done", "failed"):
            return retrains[0]
        if time.monotonic() > deadline:
            state = retrains[0].status if retrains else "never queued"
            pytest.fail(
                f"the retrain START_TRAINING asks for: {state}; server log:\n"
                f"{serve_log.read_text()[-3000:]}",
                pytrace=False,
            )
        time.sleep(1)


def test_label_studio_uses_labelloop_as_its_ml_backend(label_studio, labelloop) -> None:
    url, db, project_id, token, serve_log = labelloop
    ls = label_studio
    ls_project = ls.post(
        "/api/projects", json={"title": "Sentiment", "label_config": CONFIG}
    ).json()["id"]
    texts = ["good great lovely film", "bad awful boring film", "film"]
    imported = ls.post(f"/api/projects/{ls_project}/import", json=[{"text": t} for t in texts])
    assert imported.status_code == 201, imported.text

    # Connect: Label Studio checks /health and /setup, with Basic credentials.
    backend = ls.post(
        "/api/ml",
        json={
            "url": f"{url}/label-studio/{project_id}",
            "project": ls_project,
            "title": "labelloop",
            "auth_method": "BASIC_AUTH",
            "basic_auth_user": "label-studio",
            "basic_auth_pass": token,
            "is_interactive": False,
        },
    )
    assert backend.status_code == 201, backend.text
    assert backend.json()["readable_state"] == "Connected"
    assert backend.json()["model_version"] == "labelloop-v1"
    # Label Studio made a webhook to {url}/webhook without credentials; give it the token.
    (hook,) = ls.get("/api/webhooks", params={"project": ls_project}).json()
    assert hook["url"] == f"{url}/label-studio/{project_id}/webhook"
    patched = ls.patch(
        f"/api/webhooks/{hook['id']}", json={"headers": {"Authorization": f"Token {token}"}}
    )
    assert patched.status_code == 200

    # Retrieve predictions for every task: one each, matching the config, scored.
    retrieved = ls.post(
        "/api/dm/actions",
        params={"id": "retrieve_tasks_predictions", "project": ls_project},
        json={"selectedItems": {"all": True, "excluded": []}},
    )
    assert retrieved.status_code == 200, retrieved.text
    tasks = ls.get("/api/tasks", params={"project": ls_project, "fields": "all"}).json()
    tasks = tasks["tasks"] if isinstance(tasks, dict) else tasks
    by_text = {task["data"]["text"]: task for task in tasks}
    scores = {}
    for text, task in by_text.items():
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "labelloop-v1"
        (result,) = prediction["result"]
        assert (result["from_name"], result["to_name"], result["type"]) == (
            "sentiment", "text", "choices",
        )  # fmt: skip
        scores[text] = prediction["score"]
    choice = by_text["good great lovely film"]["predictions"][0]["result"][0]["value"]
    assert choice == {"choices": ["positive"]}
    assert scores["film"] > scores["good great lovely film"]

    # An annotation in Label Studio becomes a label in labelloop, through the webhook.
    task_id = by_text["film"]["id"]
    annotated = ls.post(
        f"/api/tasks/{task_id}/annotations",
        params={"project": ls_project},
        json={
            "result": [
                {
                    "from_name": "sentiment",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": ["negative"]},
                }
            ],
            "was_cancelled": False,
            "lead_time": 2.5,
        },
    )
    assert annotated.status_code == 201, annotated.text
    with db.read() as session:
        item = session.execute(
            select(ItemRow).where(
                ItemRow.project_id == project_id, ItemRow.external_id == f"ls-{task_id}"
            )
        ).scalar_one()
        assert (item.final_label, item.payload) == ("negative", {"text": "film"})

    # Start Training: Label Studio sends START_TRAINING to /webhook, which queues a retrain
    # job; the server's background worker runs it.
    (ml,) = ls.get("/api/ml", params={"project": ls_project}).json()
    assert ls.post(f"/api/ml/{ml['id']}/train").status_code == 200
    job = _retrained(db, project_id, serve_log)
    assert (job.status, job.error) == ("done", None), serve_log.read_text()[-3000:]
    info, _model = rounds.load_project_model(db, project_id)
    assert info.version == 2
    setup = httpx.post(
        f"{url}/label-studio/{project_id}/setup",
        headers={"Authorization": "Basic " + base64.b64encode(f"x:{token}".encode()).decode()},
        json={"schema": CONFIG},
        timeout=120,
    )
    assert setup.json()["model_version"] == "labelloop-v2"
