"""A real Label Studio (the ``label-studio`` package, in its own virtual environment) with
labelloop connected as its ML backend, both on loopback: a classification project
(``choices``), an entity project (``labels`` spans from the CRF) and a box project
(``rectanglelabels`` from a client detector's pushed boxes), each predicted, annotated
in Label Studio and retrained from it. One Label Studio and one labelloop serve them all.

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
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from loopback import free_port, serving
from PIL import Image
from sqlalchemy import select

from labelloop.engine import ingest, jobs, projects, rounds, users
from labelloop.engine.predictions import push_predictions
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    DatasetVersionRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    RoundRow,
)

pytestmark = pytest.mark.integration

LABEL_STUDIO = Path(__file__).resolve().parents[2] / ".lsstudio" / "bin" / "label-studio"
LS_TOKEN = "0123456789abcdef0123456789abcdef01234567"
BOX_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="animal" toName="image">'
    '<Label value="cat"/><Label value="dog"/></RectangleLabels></View>'
)
NER_CONFIG = (
    '<View><Labels name="entity" toName="text">'
    '<Label value="PER"/><Label value="LOC"/></Labels>'
    '<Text name="text" value="$text"/></View>'
)
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


PEOPLE = ["Ann Lee", "Bob", "Carla Diaz", "Dan", "Eve Moss", "Finn"]
PLACES = ["Paris", "New York", "Oslo", "Lima", "Cape Town", "Rome"]
TEMPLATES = ["{per} flew to {loc} today", "yesterday {per} lived in {loc}",
             "{per} says {loc} is lovely", "we met {per} near {loc} again and again"]  # fmt: skip


def _sentence(index: int) -> dict:
    # Distinct for index < 24: a repeated text would be skipped as a duplicate.
    template = TEMPLATES[index % len(TEMPLATES)]
    per, loc = PEOPLE[(index // 4) % len(PEOPLE)], PLACES[index % len(PLACES)]
    text = template.format(per=per, loc=loc)
    spans = [
        {"start": text.index(per), "end": text.index(per) + len(per), "label": "PER"},
        {"start": text.index(loc), "end": text.index(loc) + len(loc), "label": "LOC"},
    ]
    return {"text": text, "spans": sorted(spans, key=lambda s: s["start"])}


@dataclass
class Labelloop:
    """One ``labelloop serve`` with a sentiment, an entity and a box project."""

    url: str
    db: Database
    sentiment: int
    people: int
    pets: int
    token: str
    serve_log: Path

    def auth(self) -> dict[str, str]:
        secret = base64.b64encode(f"x:{self.token}".encode()).decode()
        return {"Authorization": f"Basic {secret}"}


@pytest.fixture(scope="module")
def labelloop(tmp_path_factory, _sqlite_template) -> Iterator[Labelloop]:
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
    # Label Studio's tasks name their labelloop item in the field labelloop_id.
    people = projects.create_project(
        db, actor="cli:test", name="people", task_type="ner", labels=["PER", "LOC"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "eval_min_labels": 0,
                  "label_check_folds": 0, "label_studio_id_field": "labelloop_id"},
    )  # fmt: skip
    sentences = []
    for i in range(24):
        record = {"id": f"s{i}", **_sentence(i)}
        if i >= 16:
            record.pop("spans")
        sentences.append(record)
    ingest.import_items(db, actor="cli:test", project=people.id, records=sentences)
    rounds.train(db, actor="cli:test", project=people.id)
    # No detector is bundled: a client model pushes its boxes (200x50 px images).
    images = root / "media"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, size=(50, 200, 3), dtype=np.uint8)).save(images / name)
    pets = projects.create_project(
        db, actor="cli:test", name="pets", task_type="boxes", labels=["cat", "dog"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "eval_min_labels": 0,
                  "media_root": str(root), "label_studio_id_field": "labelloop_id"},
    )  # fmt: skip
    ingest.import_items(db, actor="cli:test", project=pets.id, path=images)
    detected = {
        "a.png": [{"bbox": [20, 5, 120, 30], "label": "dog", "score": 0.7}],
        "b.png": [
            {"bbox": [0, 0, 50, 25], "label": "cat", "score": 0.4},
            {"bbox": [100, 10, 180, 50], "label": "dog", "score": 0.9},
        ],
    }
    push_predictions(
        db, project_id=pets.id, actor="model:detector", model_version="det-1",
        predictions=[{"item_id": name, "boxes": boxes} for name, boxes in detected.items()],
    )  # fmt: skip
    _info, token = users.create_user(
        db, actor="cli:test", name="label-studio", role="model",
        projects=[project.id, people.id, pets.id],
    )  # fmt: skip
    try:
        with serving(f"sqlite:///{path}", root / "serve.log") as url:
            yield Labelloop(url, db, project.id, people.id, pets.id, token, root / "serve.log")
    finally:
        db.dispose()


def _connect(ls: httpx.Client, ls_project: int, backend: Labelloop, project_id: int) -> dict:
    """Connect labelloop as the Label Studio project's ML backend; give its webhook the token.

    Label Studio checks /health and /setup with Basic credentials, and makes a webhook to
    ``{url}/webhook`` without credentials.
    """
    url = f"{backend.url}/label-studio/{project_id}"
    connected = ls.post(
        "/api/ml",
        json={
            "url": url,
            "project": ls_project,
            "title": "labelloop",
            "auth_method": "BASIC_AUTH",
            "basic_auth_user": "label-studio",
            "basic_auth_pass": backend.token,
            "is_interactive": False,
        },
    )
    assert connected.status_code == 201, connected.text
    assert connected.json()["readable_state"] == "Connected"
    (hook,) = ls.get("/api/webhooks", params={"project": ls_project}).json()
    assert hook["url"] == f"{url}/webhook"
    patched = ls.patch(
        f"/api/webhooks/{hook['id']}",
        json={"headers": {"Authorization": f"Token {backend.token}"}},
    )
    assert patched.status_code == 200
    return connected.json()


def _retrieved_tasks(ls: httpx.Client, ls_project: int) -> list[dict]:
    """Every task of the project after Label Studio asked its ML backend to predict them."""
    retrieved = ls.post(
        "/api/dm/actions",
        params={"id": "retrieve_tasks_predictions", "project": ls_project},
        json={"selectedItems": {"all": True, "excluded": []}},
    )
    assert retrieved.status_code == 200, retrieved.text
    tasks = ls.get("/api/tasks", params={"project": ls_project, "fields": "all"}).json()
    return tasks["tasks"] if isinstance(tasks, dict) else tasks


def _start_training(ls: httpx.Client, ls_project: int) -> None:
    # Label Studio sends START_TRAINING to /webhook, which queues a retrain job; the
    # server's background worker runs it.
    (ml,) = ls.get("/api/ml", params={"project": ls_project}).json()
    assert ls.post(f"/api/ml/{ml['id']}/train").status_code == 200


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
    url, db, project_id = labelloop.url, labelloop.db, labelloop.sentiment
    serve_log = labelloop.serve_log
    ls = label_studio
    ls_project = ls.post(
        "/api/projects", json={"title": "Sentiment", "label_config": CONFIG}
    ).json()["id"]
    texts = ["good great lovely film", "bad awful boring film", "film"]
    imported = ls.post(f"/api/projects/{ls_project}/import", json=[{"text": t} for t in texts])
    assert imported.status_code == 201, imported.text

    backend = _connect(ls, ls_project, labelloop, project_id)
    assert backend["model_version"] == "labelloop-v1"

    # Retrieve predictions for every task: one each, matching the config, scored.
    tasks = _retrieved_tasks(ls, ls_project)
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

    _start_training(ls, ls_project)
    job = _retrained(db, project_id, serve_log)
    assert (job.status, job.error) == ("done", None), serve_log.read_text()[-3000:]
    info, _model = rounds.load_project_model(db, project_id)
    assert info.version == 2
    setup = httpx.post(
        f"{url}/label-studio/{project_id}/setup",
        headers=labelloop.auth(),
        json={"schema": CONFIG},
        timeout=120,
    )
    assert setup.json()["model_version"] == "labelloop-v2"


def _item(db: Database, project_id: int, external_id: str) -> ItemRow:
    with db.read() as session:
        return session.execute(
            select(ItemRow).where(
                ItemRow.project_id == project_id, ItemRow.external_id == external_id
            )
        ).scalar_one()


def _latest_predictions(db: Database, project_id: int) -> dict[str, tuple[float, list]]:
    """Each item's newest prediction in labelloop: its score and spans, by external id."""
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, PredictionRow.score, PredictionRow.structure)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
            .where(PredictionRow.project_id == project_id)
            .order_by(ModelVersionRow.version, PredictionRow.id)
        ).all()
    return {external_id: (score, structure) for external_id, score, structure in rows}


def test_an_entity_project_predicts_learns_and_retrains_through_label_studio(
    label_studio, labelloop
) -> None:
    ls, db, project_id = label_studio, labelloop.db, labelloop.people
    ls_project = ls.post(
        "/api/projects", json={"title": "People", "label_config": NER_CONFIG}
    ).json()["id"]
    # The items the CRF of version 1 did not train on, named by the task field
    # labelloop_id (the project's label_studio_id_field).
    open_ids = [f"s{i}" for i in range(16, 24)]
    texts = {external_id: _item(db, project_id, external_id).payload["text"]
             for external_id in open_ids}  # fmt: skip
    imported = ls.post(
        f"/api/projects/{ls_project}/import",
        json=[
            {"text": texts[external_id], "labelloop_id": external_id} for external_id in open_ids
        ],
    )
    assert imported.status_code == 201, imported.text
    backend = _connect(ls, ls_project, labelloop, project_id)
    assert backend["model_version"] == "labelloop-v1"

    # Label Studio holds labelloop's spans: labels results at the CRF's offsets, with the
    # span scores and the sentence's informativeness labelloop computed.
    tasks = {task["data"]["labelloop_id"]: task for task in _retrieved_tasks(ls, ls_project)}
    assert set(tasks) == set(open_ids)
    expected = _latest_predictions(db, project_id)
    spans_seen = 0
    for external_id, task in tasks.items():
        (prediction,) = task["predictions"]
        score, spans = expected[external_id]
        assert prediction["model_version"] == "labelloop-v1"
        assert prediction["score"] == pytest.approx(score, abs=1e-6)
        text = texts[external_id]
        results = sorted(prediction["result"], key=lambda r: r["value"]["start"])
        assert len(results) == len(spans)
        for result, span in zip(results, sorted(spans, key=lambda s: s["start"]), strict=True):
            assert (result["from_name"], result["to_name"], result["type"]) == (
                "entity", "text", "labels",
            )  # fmt: skip
            assert result["value"] == {
                "start": span["start"],
                "end": span["end"],
                "text": text[span["start"] : span["end"]],
                "labels": [span["label"]],
            }
            assert result["score"] == pytest.approx(span["score"], abs=1e-6)
            spans_seen += 1
    assert spans_seen > 0  # the CRF found entities in the sentences it did not train on
    # Both kinds of entity come through, not only one.
    found = {
        (texts[i][r["value"]["start"] : r["value"]["end"]], r["value"]["labels"][0])
        for i, task in tasks.items()
        for r in task["predictions"][0]["result"]
    }
    assert {label for _name, label in found} == {"PER", "LOC"}

    # An annotation with spans in Label Studio arrives in labelloop as spans.
    external_id = "s16"
    text = texts[external_id]
    truth = _sentence(16)["spans"]
    annotated = ls.post(
        f"/api/tasks/{tasks[external_id]['id']}/annotations",
        params={"project": ls_project},
        json={
            "result": [
                {
                    "from_name": "entity",
                    "to_name": "text",
                    "type": "labels",
                    "value": {
                        "start": span["start"],
                        "end": span["end"],
                        "text": text[span["start"] : span["end"]],
                        "labels": [span["label"]],
                    },
                }
                for span in truth
            ],
            "was_cancelled": False,
            "lead_time": 4.0,
        },
    )
    assert annotated.status_code == 201, annotated.text
    item = _item(db, project_id, external_id)
    assert item.final_label == truth
    with db.read() as session:
        (label,) = session.execute(
            select(AnnotationRow.label).where(
                AnnotationRow.item_id == item.id, AnnotationRow.status == "active"
            )
        ).scalars()
    assert label == truth

    # Start Training retrains the CRF on the new spans too: version 2, which Label Studio
    # then sees.
    _start_training(ls, ls_project)
    job = _retrained(db, project_id, labelloop.serve_log)
    assert (job.status, job.error) == ("done", None), labelloop.serve_log.read_text()[-3000:]
    info, _model = rounds.load_project_model(db, project_id)
    assert info.version == 2
    setup = httpx.post(
        f"{labelloop.url}/label-studio/{project_id}/setup",
        headers=labelloop.auth(),
        json={"schema": NER_CONFIG},
        timeout=120,
    )
    assert setup.json()["model_version"] == "labelloop-v2"
    again = _retrieved_tasks(ls, ls_project)
    newest = {
        task["data"]["labelloop_id"]: {p["model_version"] for p in task["predictions"]}
        for task in again
    }
    assert all("labelloop-v2" in versions for i, versions in newest.items() if i != external_id)


def test_a_box_project_shows_pushed_boxes_learns_boxes_and_runs_a_round(
    label_studio, labelloop
) -> None:
    ls, db, project_id = label_studio, labelloop.db, labelloop.pets
    ls_project = ls.post(
        "/api/projects", json={"title": "Pets", "label_config": BOX_CONFIG}
    ).json()["id"]
    imported = ls.post(
        f"/api/projects/{ls_project}/import",
        json=[
            {"image": f"{labelloop.url}/media/{name}", "labelloop_id": name}
            for name in ("a.png", "b.png")
        ],
    )
    assert imported.status_code == 201, imported.text
    _connect(ls, ls_project, labelloop, project_id)

    # The detector's boxes, in percent of the 200x50 image, each with its score, and the
    # image's informativeness labelloop computed from them.
    tasks = {task["data"]["labelloop_id"]: task for task in _retrieved_tasks(ls, ls_project)}
    expected = _latest_predictions(db, project_id)
    wanted = {
        "a.png": [("dog", (10.0, 10.0, 50.0, 50.0), 0.7)],
        "b.png": [("cat", (0.0, 0.0, 25.0, 50.0), 0.4), ("dog", (50.0, 20.0, 40.0, 80.0), 0.9)],
    }
    for name, boxes in wanted.items():
        (prediction,) = tasks[name]["predictions"]
        assert prediction["model_version"] == "det-1"
        assert prediction["score"] == pytest.approx(expected[name][0], abs=1e-6)
        got = []
        for result in prediction["result"]:
            assert (result["from_name"], result["to_name"], result["type"]) == (
                "animal", "image", "rectanglelabels",
            )  # fmt: skip
            assert (result["original_width"], result["original_height"]) == (200, 50)
            value = result["value"]
            (label,) = value["rectanglelabels"]
            place = (value["x"], value["y"], value["width"], value["height"])
            got.append((label, place, result["score"]))
        assert len(got) == len(boxes)
        for (label, place, score), (want_label, want_place, want_score) in zip(
            sorted(got), sorted(boxes), strict=True
        ):
            assert label == want_label and score == pytest.approx(want_score)
            assert place == pytest.approx(want_place)

    # A rectangle drawn in Label Studio arrives as a box in labelloop's pixels.
    annotated = ls.post(
        f"/api/tasks/{tasks['a.png']['id']}/annotations",
        params={"project": ls_project},
        json={
            "result": [
                {
                    "from_name": "animal",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    "original_width": 200,
                    "original_height": 50,
                    "image_rotation": 0,
                    "value": {"x": 10, "y": 20, "width": 25, "height": 40, "rotation": 0,
                              "rectanglelabels": ["cat"]},
                }
            ],
            "was_cancelled": False,
            "lead_time": 3.0,
        },
    )  # fmt: skip
    assert annotated.status_code == 201, annotated.text
    item = _item(db, project_id, "a.png")
    assert item.final_label == [{"bbox": [20.0, 10.0, 70.0, 30.0], "label": "cat"}]

    # Start Training: no detector to train, so the round snapshots the labels (a dataset
    # version holding the new box) and ranks the images by the pushed boxes.
    _start_training(ls, ls_project)
    job = _retrained(db, project_id, labelloop.serve_log)
    assert (job.status, job.error) == ("done", None), labelloop.serve_log.read_text()[-3000:]
    with db.read() as session:
        (round_row,) = session.execute(
            select(RoundRow).where(RoundRow.project_id == project_id)
        ).scalars()
        assert round_row.metrics["trained"] is False
        (dataset,) = session.execute(
            select(DatasetVersionRow).where(DatasetVersionRow.project_id == project_id)
        ).scalars()
        assert dataset.n_items == 1
