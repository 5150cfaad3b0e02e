"""Label Studio's ``/predict`` with 10,000 tasks of an entity project, against a real
``labelloop serve``.

An entity project's ``/predict`` answers from the spans labelloop holds for each task's
item (its latest prediction with a structure), not from a model run per request. The
benchmark imports ``--tasks`` sentences into an entity project, pushes two predicted
spans for each (as a CRF round or a client model leaves them), starts ``labelloop
serve`` on loopback and posts the ``--tasks`` Label Studio tasks in one request shaped
as Label Studio sends it, ``--repeats`` times. Side by side, in this process, the same
tasks through `labelloop.engine.label_studio.predict_region_tasks` alone (no HTTP, no
JSON): the baseline the HTTP path is a ratio of.

Run::

    .venv/bin/python benchmarks/label_studio_entities.py --tasks 10000
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from label_studio import LS_TIMEOUT, _free_port

from labelloop.engine import ingest, label_studio, projects, users
from labelloop.engine.predictions import push_predictions
from labelloop.store.db import Database

CONFIG = (
    '<View><Labels name="entity" toName="text"><Label value="PER"/><Label value="LOC"/>'
    '</Labels><Text name="text" value="$text"/></View>'
)
NAMES = ["Anna", "Bob", "Carla", "Dmitri", "Eve", "Farid", "Greta", "Hugo"]
PLACES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Pune", "Accra", "Quito"]
FILLER = ["went", "to", "the", "market", "in", "after", "a", "long", "day", "with", "friends"]


def _sentence(rng: random.Random) -> tuple[str, list[dict]]:
    name, place = rng.choice(NAMES), rng.choice(PLACES)
    middle = " ".join(rng.choice(FILLER) for _ in range(14))
    text = f"{name} {middle} {place} {' '.join(rng.choice(FILLER) for _ in range(4))}"
    at = len(name) + 1 + len(middle) + 1
    spans = [
        {"start": 0, "end": len(name), "label": "PER", "score": round(rng.random(), 4)},
        {"start": at, "end": at + len(place), "label": "LOC", "score": round(rng.random(), 4)},
    ]
    return text, spans


def _build(root: Path, n: int, seed: int) -> tuple[str, int, str, list[dict]]:
    path = root / "labelloop.db"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    project = projects.create_project(
        db, actor="bench", name="people", task_type="ner", labels=["PER", "LOC"]
    )
    rng = random.Random(seed)
    records, pushes, tasks = [], [], []
    for i in range(n):
        text, spans = _sentence(rng)
        text = f"{text} {i}"
        records.append({"id": f"ls-{i}", "text": text})
        pushes.append({"item_id": f"ls-{i}", "spans": spans})
        tasks.append({"id": i, "data": {"text": text}, "annotations": []})
    ingest.import_items(db, actor="bench", project=project.id, records=records)
    push_predictions(
        db, project_id=project.id, actor="model:bench", model_version="crf", predictions=pushes
    )
    _info, token = users.create_user(
        db, actor="bench", name="label-studio", role="model", projects=[project.id]
    )
    db.dispose()
    return f"sqlite:///{path}", project.id, token, tasks


def _in_process(db_url: str, project_id: int, tasks: list[dict]) -> float:
    db = Database(db_url)
    control = label_studio.choose_region_control(CONFIG, task_type="ner", labels=["PER", "LOC"])
    start = time.perf_counter()
    results, _name = label_studio.predict_region_tasks(
        db, tasks, project_id=project_id, control=control, id_field=None
    )
    elapsed = time.perf_counter() - start
    assert all(len(r["result"]) == 2 for r in results)
    db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="labelloop-ls-ner-bench-"))
    try:
        db_url, project_id, token, tasks = _build(root, args.tasks, args.seed)
        body = {
            "tasks": tasks,
            "model_version": None,
            "project": "1.1733300000",
            "label_config": CONFIG,
            "params": {"login": None, "password": None, "context": None},
        }
        port = _free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("labelloop")),
                "serve",
                "--port",
                str(port),
                "--no-worker",
                "--max-body-bytes",
                str(64 * 1024 * 1024),
                "--log-level",
                "warning",
            ],
            env={**os.environ, "LABELLOOP_DB": db_url},
        )
        base = f"http://127.0.0.1:{port}/label-studio/{project_id}"
        secret = base64.b64encode(f"label-studio:{token}".encode()).decode()
        headers = {"Authorization": f"Basic {secret}"}
        try:
            deadline = time.monotonic() + 180  # a loaded machine starts slowly
            while True:
                try:
                    if httpx.get(f"{base}/health", headers=headers).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("labelloop serve did not start")
                time.sleep(0.2)
            walls = []
            with httpx.Client(timeout=LS_TIMEOUT) as client:
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    answer = client.post(f"{base}/predict", headers=headers, json=body)
                    walls.append(time.perf_counter() - start)
                    answer.raise_for_status()
                    results = answer.json()["results"]
                    assert len(results) == len(tasks)
                    assert all(len(r["result"]) == 2 for r in results)
        finally:
            server.terminate()
            server.wait(timeout=30)
        baseline = _in_process(db_url, project_id, tasks)
        size_mb = len(httpx.Request("POST", "http://x", json=body).content) / 1e6
        print(f"{args.tasks} entity tasks ({size_mb:.1f} MB request), 2 spans each")
        print("| path | seconds | ratio to in-process | share of Label Studio's 100 s |")
        print("| --- | ---: | ---: | ---: |")
        rows = [("HTTP /predict, first call", walls[0])]
        if len(walls) > 1:
            rows.append((f"HTTP /predict, later (median of {len(walls) - 1})",
                         statistics.median(walls[1:])))  # fmt: skip
        rows.append(("in-process predict_region_tasks (baseline)", baseline))
        for name, seconds in rows:
            print(
                f"| {name} | {seconds:.2f} | {seconds / baseline:.2f} | "
                f"{100 * seconds / LS_TIMEOUT:.1f}% |"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
