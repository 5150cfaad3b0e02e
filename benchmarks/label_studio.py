"""Label Studio's ``/predict`` with 10,000 tasks against a real ``labelloop serve``.

Label Studio gives an ML backend 100 s to answer ``/predict``. The benchmark builds a
text project (``--labelled`` labelled items, one round trained), starts ``labelloop
serve`` on loopback and posts ``--tasks`` Label Studio tasks (about 20 words each) in
one request shaped as Label Studio sends it, with HTTP Basic credentials, ``--repeats``
times: the first call loads the model version, the others find it loaded. Side by side,
in this process, the same tasks through `labelloop.engine.label_studio.predict_tasks`
alone (no HTTP, no JSON): the baseline the HTTP path is a ratio of.

Run::

    .venv/bin/python benchmarks/label_studio.py --tasks 10000
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from labelloop.engine import ingest, label_studio, projects, rounds, users
from labelloop.store.db import Database

LS_TIMEOUT = 100.0
LABELS = ["positive", "negative", "neutral"]
WORDS = {
    "positive": ["good", "great", "lovely", "moving", "sharp", "funny"],
    "negative": ["bad", "awful", "boring", "flat", "dull", "slow"],
    "neutral": ["film", "plot", "scene", "actor", "music", "story", "camera", "ending"],
}
CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    + "".join(f'<Choice value="{label}"/>' for label in LABELS)
    + "</Choices></View>"
)


def _text(rng: random.Random, label: str) -> str:
    words = [rng.choice(WORDS["neutral"]) for _ in range(16)]
    words += [rng.choice(WORDS[label]) for _ in range(4)] if label != "neutral" else []
    rng.shuffle(words)
    return " ".join(words)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _build(root: Path, n_labelled: int, seed: int) -> tuple[str, int, str]:
    path = root / "labelloop.db"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    project = projects.create_project(
        db,
        actor="bench",
        name="sentiment",
        task_type="classification",
        labels=LABELS,
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    rng = random.Random(seed)
    records = []
    for i in range(n_labelled):
        label = LABELS[i % 3]
        records.append({"id": f"l{i}", "text": _text(rng, label), "label": label})
    ingest.import_items(db, actor="bench", project=project.id, records=records)
    rounds.train(db, actor="bench", project=project.id)
    _info, token = users.create_user(
        db, actor="bench", name="label-studio", role="model", projects=[project.id]
    )
    db.dispose()
    return f"sqlite:///{path}", project.id, token


def _tasks(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed + 1)
    return [
        {"id": 100_000 + i, "data": {"text": _text(rng, rng.choice(LABELS))}, "annotations": []}
        for i in range(n)
    ]


def _in_process(db_url: str, project_id: int, tasks: list[dict]) -> float:
    db = Database(db_url)
    project = projects.get_project_info(db, project_id)
    info, model = rounds.load_project_model(db, project_id)
    control = label_studio.choose_control(CONFIG, labels=project.labels, multi_label=False)
    start = time.perf_counter()
    label_studio.predict_tasks(
        tasks,
        control=control,
        model=model,
        model_version=info.version,
        task_type=project.task_type,
        strategy=project.strategy,
        multi_label=False,
    )
    elapsed = time.perf_counter() - start
    db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--labelled", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="labelloop-ls-bench-"))
    try:
        db_url, project_id, token = _build(root, args.labelled, args.seed)
        tasks = _tasks(args.tasks, args.seed)
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
                    assert len(answer.json()["results"]) == len(tasks)
        finally:
            server.terminate()
            server.wait(timeout=30)
        baseline = _in_process(db_url, project_id, tasks)
        size_mb = len(httpx.Request("POST", "http://x", json=body).content) / 1e6
        warm = statistics.median(walls[1:]) if len(walls) > 1 else walls[0]
        print(f"{args.tasks} tasks ({size_mb:.1f} MB request), {args.labelled} labelled items")
        print("| path | seconds | ratio to in-process | share of Label Studio's 100 s |")
        print("| --- | ---: | ---: | ---: |")
        for name, seconds in (
            ("HTTP /predict, first call (loads the model)", walls[0]),
            (f"HTTP /predict, warm (median of {len(walls) - 1})", warm),
            ("in-process predict_tasks (baseline)", baseline),
        ):
            print(
                f"| {name} | {seconds:.2f} | {seconds / baseline:.2f} | "
                f"{100 * seconds / LS_TIMEOUT:.1f}% |"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
