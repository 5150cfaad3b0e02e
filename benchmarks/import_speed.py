"""Time `labelloop import` of N synthetic text items on SQLite, against a plain baseline.

Both run in the same process on the same machine, each into a fresh SQLite file with
labelloop's schema:

- **labelloop**: `labelloop.engine.ingest.import_items` on a JSONL file: validation pass
  (ids, types, labels against the schema, content-hash duplicates), then one transaction
  writing items, open tasks with a cold-start order, imported labels (10% of the items
  carry one), the evaluation-set draw and the audit event.
- **baseline**: the same file parsed with ``json.loads`` and the same item and task rows
  (with the same content-hash index keys) written with ``sqlite3``'s ``executemany`` in
  one transaction, with no validation, no labels, no eval set, the default page cache:
  the floor of what any importer pays for these rows.

The ratio is labelloop's time over the baseline's. Progress goes to stderr; the result
(Markdown) to stdout.

Usage::

    python benchmarks/import_speed.py              # 1,000,000 items
    python benchmarks/import_speed.py --n 100000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.store.db import Database

WORDS = [
    "good",
    "bad",
    "plot",
    "actor",
    "scene",
    "music",
    "long",
    "short",
    "funny",
    "dull",
    "great",
    "awful",
    "film",
    "story",
]


def write_jsonl(path: Path, n: int) -> None:
    """N records: a sentence of 12 words, 10% labelled, a group in meta."""
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            words = " ".join(WORDS[(i * 7 + k * 3 + i // 14) % len(WORDS)] for k in range(12))
            record = {"id": f"item-{i}", "text": f"{words} #{i}", "meta": {"group": i % 4}}
            if i % 10 == 0:
                record["label"] = "pos" if i % 20 else "neg"
            handle.write(json.dumps(record) + "\n")


def fresh_database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    return db


def time_labelloop(folder: Path, source: Path) -> float:
    db = fresh_database(folder / "labelloop.db")
    create_project(
        db, actor="bench", name="bench", task_type="classification", labels=["pos", "neg"]
    )
    start = time.perf_counter()
    report = import_items(db, actor="bench", project="bench", path=source)
    seconds = time.perf_counter() - start
    db.dispose()
    print(f"labelloop: {report.n_imported} items in {seconds:.1f} s", file=sys.stderr)
    return seconds


def time_baseline(folder: Path, source: Path) -> float:
    path = folder / "baseline.db"
    db = fresh_database(path)
    create_project(
        db, actor="bench", name="bench", task_type="classification", labels=["pos", "neg"]
    )
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    now = "2026-01-01 00:00:00.000000"
    items, tasks = [], []
    with open(source, encoding="utf-8") as handle:
        for item_id, line in enumerate(handle, start=1):
            record = json.loads(line)
            digest = hashlib.sha256(record["text"].encode()).hexdigest()
            items.append(
                (item_id, 1, record["id"], json.dumps({"text": record["text"]}),
                 json.dumps(record["meta"]), digest, 0, "open", now)
            )  # fmt: skip
            tasks.append((1, item_id, "label", "open", 0.0, 1, 0, 0, now, now))
            if len(items) == 10_000:
                _baseline_flush(conn, items, tasks)
    _baseline_flush(conn, items, tasks)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    print(f"baseline: sqlite3 executemany in {seconds:.1f} s", file=sys.stderr)
    return seconds


def _baseline_flush(conn: sqlite3.Connection, items: list, tasks: list) -> None:
    conn.executemany(
        "INSERT INTO items (id, project_id, external_id, payload, meta, content_hash, is_eval,"
        " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        items,
    )
    conn.executemany(
        "INSERT INTO tasks (project_id, item_id, queue, status, priority, needed,"
        " active_leases, is_eval, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tasks,
    )
    items.clear()
    tasks.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="items to import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        source = folder / "items.jsonl"
        print(f"writing {args.n} synthetic items ...", file=sys.stderr)
        write_jsonl(source, args.n)
        ours = time_labelloop(folder, source)
        baseline = time_baseline(folder, source)
    print(f"Import of {args.n:,} text items into SQLite ({platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version})\n")  # fmt: skip
    print("| importer | seconds | items/s | ratio to baseline |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| labelloop import_items | {ours:.1f} | {args.n / ours:,.0f} | {ours / baseline:.2f} |")
    print(f"| sqlite3 executemany (baseline) | {baseline:.1f} | {args.n / baseline:,.0f} | 1.00 |")


if __name__ == "__main__":
    main()
