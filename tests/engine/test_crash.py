"""A process killed (SIGKILL) in the middle of an import leaves the database consistent:
all of the import or none of it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, get_project_info

# Runs an import that pauses after its first batch is written (inside the transaction),
# and says so on stdout: the test kills it there.
CHILD = textwrap.dedent(
    """
    import sys, time
    from labelloop.engine.ingest import import_items
    from labelloop.store.db import Database

    def on_progress(phase, done, total):
        if phase == "writing" and done < total:
            print("writing", done, flush=True)
            time.sleep(60)

    db = Database(sys.argv[1])
    import_items(db, actor="cli:crash", project="big", path=sys.argv[2], on_progress=on_progress)
    print("finished", flush=True)
    """
)


def _counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("items", "tasks", "annotations", "audit_events")
        }


def test_sigkill_mid_import_leaves_none_of_it(sqlite_db, tmp_path):
    create_project(sqlite_db, actor="cli:t", name="big", task_type="classification",
                   labels=["pos", "neg"])  # fmt: skip
    import_items(sqlite_db, actor="cli:t", project="big", records=[{"id": "kept", "text": "x"}])
    source = tmp_path / "big.jsonl"
    with open(source, "w") as handle:
        for i in range(15_000):
            record = {"id": i, "text": f"item {i}", "label": "pos" if i % 5 == 0 else None}
            handle.write(json.dumps(record) + "\n")
    db_path = sqlite_db.url.removeprefix("sqlite:///")
    sqlite_db.dispose()
    before = _counts(db_path)

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sqlite_db.url, str(source)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("writing"), line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert _counts(db_path) == before

    # The lock died with the process: the same import now runs to the end, all of it.
    report = import_items(sqlite_db, actor="cli:t", project="big", path=source)
    after = _counts(db_path)
    assert report.n_imported == 15_000
    assert after["items"] == before["items"] + 15_000
    assert after["tasks"] == before["tasks"] + 12_000
    assert after["annotations"] == before["annotations"] + 3_000
    assert after["audit_events"] == before["audit_events"] + 1
    assert get_project_info(sqlite_db, "big").n_items == 15_001
