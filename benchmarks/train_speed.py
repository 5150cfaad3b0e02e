"""Time one `train` round on a large SQLite pool: total, peak memory, longest write lock.

The run has two phases, each in its own process so that the peak memory is the round's:

1. **build**: a project of N synthetic text items (``--labelled`` of them with imported
   labels, the evaluation set drawn by the import) from a generated JSONL file, through
   `labelloop.engine.ingest.import_items`, into a fresh SQLite file.
2. **train**: in a fresh process, an annotator leases and submits tasks
   (`lease_next_task` + `submit_annotation`, 20 ms apart) first on its own, as the
   baseline, then while `labelloop.engine.rounds.train` runs in the main thread. The
   annotator is a thread of the training process (``--annotator thread``, as when the
   server's job worker and its request handlers share a process, and so the GIL), or a
   process of its own (``--annotator process``, as with ``labelloop serve --workers N``).
   Every write transaction of the round is timed from its ``BEGIN IMMEDIATE`` (the write
   lock taken) to the connection's return to the pool (lock released), by SQLAlchemy
   engine and pool events.

The table gives the round's total time, its peak RSS, its write transactions (count, sum,
longest), and the annotator's latencies without and with the round running, with their
ratio. Progress goes to stderr; the result (Markdown) to stdout.

Usage::

    python benchmarks/train_speed.py                 # 100,000 items
    python benchmarks/train_speed.py --n 1000000
    python benchmarks/train_speed.py --annotator process
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from labelloop.store.db import Database

POSITIVE = ["good", "great", "excellent", "lovely", "superb", "fine", "moving", "funny"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "dull", "horrid", "long", "flat"]
NEUTRAL = ["film", "plot", "actor", "scene", "music", "story", "cast", "ending", "script"]
PROBE_PAUSE_S = 0.02
BASELINE_SAMPLES = 150


def write_jsonl(path: Path, n: int, n_labelled: int) -> None:
    """N reviews of 12 words whose sentiment words follow a hidden label."""
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            label = "pos" if rng.random() < 0.5 else "neg"
            strong = POSITIVE if label == "pos" else NEGATIVE
            words = rng.choices(strong, k=3) + rng.choices(POSITIVE + NEGATIVE, k=2)
            words += rng.choices(NEUTRAL, k=7)
            rng.shuffle(words)
            record: dict[str, Any] = {"id": f"r{i}", "text": " ".join(words) + f" #{i % 997}"}
            if i < n_labelled:
                record["label"] = label
            handle.write(json.dumps(record) + "\n")


def build(path: Path, n: int, n_labelled: int) -> float:
    from labelloop.engine.ingest import import_items
    from labelloop.engine.projects import create_project
    from labelloop.engine.users import create_user

    db = Database(f"sqlite:///{path}")
    db.create_schema()
    create_project(
        db,
        actor="bench",
        name="bench",
        task_type="classification",
        labels=["pos", "neg"],
        settings={"retrain_every": 0},
    )
    create_user(db, actor="bench", name="annotator", role="annotator", projects=["bench"])
    source = path.with_name("items.jsonl")
    write_jsonl(source, n, n_labelled)
    start = time.perf_counter()
    import_items(db, actor="bench", project="bench", path=source)
    seconds = time.perf_counter() - start
    source.unlink()
    db.dispose()
    return seconds


class WriteTimer:
    """Write transactions of one database, timed from BEGIN to the connection's check-in."""

    def __init__(self, db: Database) -> None:
        self.spans: list[tuple[int, float]] = []  # (thread id, seconds)
        event.listen(db.engine, "begin", self._begin)
        event.listen(db.engine.pool, "checkin", self._checkin)

    def _begin(self, conn) -> None:
        # Runs after the store's own listener, which has already taken the lock.
        if conn.get_execution_options().get("labelloop_write", False):
            conn.info["bench_write"] = (threading.get_ident(), time.perf_counter())

    def _checkin(self, _dbapi_conn, record) -> None:
        started = record.info.pop("bench_write", None) if record is not None else None
        if started is not None:
            thread, moment = started
            self.spans.append((thread, time.perf_counter() - moment))

    def of(self, thread: int) -> list[float]:
        return [seconds for owner, seconds in self.spans if owner == thread]


class Annotator(threading.Thread):
    """Leases and submits tasks until stopped, recording each call's latency."""

    def __init__(self, db: Database, project_id: int, limit: int | None = None) -> None:
        super().__init__(daemon=True)
        from labelloop.engine.users import get_user

        self.db = db
        self.project_id = project_id
        self.user = get_user(db, "annotator")
        self.limit = limit
        self.lease: list[float] = []
        self.submit: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from labelloop.engine.annotate import submit_annotation
        from labelloop.engine.queue import lease_next_task

        rng = random.Random(1)
        while not self.stop.is_set() and (self.limit is None or len(self.lease) < self.limit):
            start = time.perf_counter()
            try:
                task = lease_next_task(self.db, project_id=self.project_id, user=self.user)
                leased = time.perf_counter()
                if task is None:
                    return
                submit_annotation(
                    self.db, task_id=task.id, user=self.user, label=rng.choice(["pos", "neg"])
                )
            except OperationalError as exc:  # "database is locked" after the busy timeout
                self.errors.append(str(exc.orig))
                continue
            self.lease.append(leased - start)
            self.submit.append(time.perf_counter() - leased)
            self.stop.wait(PROBE_PAUSE_S)


def _status_mib(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status`` (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS, and return that, in MiB.

    Without ``/proc`` the peak so far stands in (ru_maxrss), which only overstates.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss() -> float:
    """Peak RSS since `reset_peak_rss`, in MiB."""
    try:
        return _status_mib("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def _latencies(annotator: Annotator) -> dict[str, float]:
    return {
        "n": len(annotator.lease),
        "errors": len(annotator.errors),
        "lease_p50": _ms(annotator.lease, 50),
        "lease_p99": _ms(annotator.lease, 99),
        "submit_p50": _ms(annotator.submit, 50),
        "submit_p99": _ms(annotator.submit, 99),
        "max": max([a + b for a, b in zip(annotator.lease, annotator.submit, strict=True)] or [0])
        * 1000,
    }


def annotate_elsewhere(path: Path, project_id: int, ready, stop, results) -> None:
    """An annotator in a process of its own, until ``stop`` is set; results as a dict."""
    annotator = Annotator(Database(f"sqlite:///{path}"), project_id)
    annotator.start()
    ready.set()
    stop.wait()
    annotator.stop.set()
    annotator.join()
    results.put({"lease": annotator.lease, "submit": annotator.submit, "errors": annotator.errors})


class _Finished:
    """An annotator's recorded calls, read back from its process."""

    def __init__(self, recorded: dict[str, list]) -> None:
        self.lease = recorded["lease"]
        self.submit = recorded["submit"]
        self.errors = recorded["errors"]


def run_round(path: Path, annotator: str) -> dict[str, Any]:
    """The train phase (in its own process): baseline annotator, then train beside one."""
    from labelloop.engine.projects import get_project_info
    from labelloop.engine.rounds import train

    db = Database(f"sqlite:///{path}")
    timer = WriteTimer(db)
    project_id = get_project_info(db, "bench").id
    idle = Annotator(db, project_id, limit=BASELINE_SAMPLES)
    idle.start()
    idle.join()
    # Loaded before the mark: a fixed cost of any round (skops brings torch), not the pool's.
    for module in ("labelloop.models.artifacts", "labelloop.models.builtin", "labelloop.selection"):
        importlib.import_module(module)
    rss_before = reset_peak_rss()
    if annotator == "process":
        context = multiprocessing.get_context("spawn")
        ready, stop, results = context.Event(), context.Event(), context.Queue()
        child = context.Process(
            target=annotate_elsewhere, args=(path, project_id, ready, stop, results)
        )
        child.start()
        ready.wait()
    else:
        busy = Annotator(db, project_id)
        busy.start()
    me = threading.get_ident()
    start = time.perf_counter()
    stage_ends: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stage_ends[stage] = time.perf_counter() - start
        print(f"  {stage} {done}/{total}", file=sys.stderr, flush=True)

    info = train(db, actor="bench", project="bench", progress=progress)
    seconds = time.perf_counter() - start
    if annotator == "process":
        stop.set()
        busy = _Finished(results.get())
        child.join()
    else:
        busy.stop.set()
        busy.join()
    writes = timer.of(me)
    return {
        "seconds": seconds,
        "rss_before_mib": rss_before,
        "rss_peak_mib": peak_rss(),
        "stages": stage_ends,
        "writes": len(writes),
        "write_p50": float(np.percentile(writes, 50)) if writes else 0.0,
        "write_p99": float(np.percentile(writes, 99)) if writes else 0.0,
        "write_sum": sum(writes),
        "write_max": max(writes, default=0.0),
        "pool_size": info.metrics.get("pool_size"),
        "n_labels": info.n_labels,
        "idle": _latencies(idle),
        "busy": _latencies(busy),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="items in the pool")
    parser.add_argument("--labelled", type=int, default=300, help="items imported labelled")
    parser.add_argument(
        "--annotator",
        choices=("thread", "process"),
        default="thread",
        help="the annotator runs in a thread of the training process, or in its own",
    )
    parser.add_argument("--train-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_only:
        print(json.dumps(run_round(args.train_only, args.annotator)))
        return
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "bench.db"
        print(f"building a project of {args.n:,} items ...", file=sys.stderr)
        imported = build(path, args.n, args.labelled)
        print(f"imported in {imported:.1f} s; training ...", file=sys.stderr)
        child = subprocess.run(
            [sys.executable, __file__, "--train-only", str(path), "--annotator", args.annotator],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
    idle, busy = result["idle"], result["busy"]
    print(
        f"Train of {args.n:,} text items ({result['n_labels']} labelled, pool "
        f"{result['pool_size']:,}) on SQLite ({platform.processor() or 'cpu'}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version})\n"
    )
    print("| round | value |")
    print("| --- | ---: |")
    ends = result["stages"]
    print(f"| total time | {result['seconds']:.1f} s |")
    print(
        f"| of which: labels read, model fitted | {ends.get('fit', 0):.1f} s |\n"
        f"| of which: model version; eval set and pool scored, predictions written "
        f"| {ends.get('score', ends.get('fit', 0)) - ends.get('fit', 0):.1f} s |\n"
        f"| of which: priorities written | "
        f"{ends.get('write', 0) - ends.get('score', ends.get('fit', 0)):.1f} s |\n"
        f"| of which: round committed, stale predictions deleted "
        f"| {result['seconds'] - ends.get('write', 0):.1f} s |"
    )
    print(
        f"| peak RSS during the round (RSS at its start) | {result['rss_peak_mib']:,.0f} MiB "
        f"({result['rss_before_mib']:,.0f} MiB) |"
    )
    print(f"| write transactions | {result['writes']} |")
    print(f"| time holding the write lock, all of them | {result['write_sum']:.2f} s |")
    print(
        f"| write transaction p50 / p99 / longest | {result['write_p50'] * 1000:.0f} ms / "
        f"{result['write_p99'] * 1000:.0f} ms / {result['write_max'] * 1000:.0f} ms |"
    )
    print()
    print("| annotator (lease + submit) | n | lease p50 | lease p99 | submit p50 | submit p99 "
          "| slowest pair | locked out |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    during = f"during the round (a {args.annotator})"
    for name, row in (("alone (baseline)", idle), (during, busy)):
        print(
            f"| {name} | {row['n']} | {row['lease_p50']:.1f} ms | {row['lease_p99']:.1f} ms "
            f"| {row['submit_p50']:.1f} ms | {row['submit_p99']:.1f} ms | {row['max']:.0f} ms "
            f"| {row['errors']} |"
        )
    ratio = (busy["lease_p99"] + busy["submit_p99"]) / (idle["lease_p99"] + idle["submit_p99"])
    print(f"\np99 of lease + submit during the round / alone: {ratio:.1f}x")


if __name__ == "__main__":
    main()
