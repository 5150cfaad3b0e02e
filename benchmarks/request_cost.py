"""Work per request of the annotation loop: statements, server round trips, CPU.

Wall-clock latencies on a shared machine measure the machine; this measures what one
``tasks/next`` and one submit cost, so two trees can be compared side by side. One
annotator at a time leases and submits through the real app in process (Starlette's
test client over ASGI) on a project built like `serve_load.py`'s, and for each call
counts

- the statements SQLAlchemy sends (``before_cursor_execute``),
- on PostgreSQL, every message the server logs (``log_statement = all``): statements,
  BEGIN/COMMIT/ROLLBACK and pool pings, so each is one round trip,
- the process CPU time of the call (``time.process_time``: the app's threads too).

Run::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/request_cost.py --backend sqlite postgres

For the CPU column add ``--no-log`` (the PostgreSQL statement log costs CPU itself).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).parent))
import serve_load  # noqa: E402

from labelloop.server.app import create_app  # noqa: E402
from labelloop.server.settings import ServerSettings  # noqa: E402
from labelloop.store.db import Database  # noqa: E402


def _logged(log: Path) -> int:
    with log.open() as f:
        return sum(1 for line in f if "LOG:  statement:" in line or "LOG:  execute" in line)


def measure(backend: str, *, calls: int, warmup: int, log_statements: bool) -> dict:
    with contextlib.ExitStack() as stack:
        log = None
        if backend == "postgres":
            url = stack.enter_context(serve_load.throwaway_postgres())
            if log_statements:
                roots = [p for p in Path("/dev/shm").glob("labelloop-load-pg-*")]
                roots += list(Path(tempfile.gettempdir()).glob("labelloop-load-pg-*"))
                log = max((r / "server.log" for r in roots), key=os.path.getmtime)
        else:
            url = "sqlite:///" + stack.enter_context(tempfile.TemporaryDirectory()) + "/c.db"
        db = Database(url)
        stack.callback(db.dispose)
        db.create_schema()
        project_id, tokens = serve_load.build_project(db, n_items=2000, n_annotators=5)
        if log is not None:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ALTER SYSTEM SET log_statement = 'all'"))
                conn.execute(text("SELECT pg_reload_conf()"))
            time.sleep(1)
        sent = [0]

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_args) -> None:
            sent[0] += 1

        out = {k: {"cpu": [], "statements": [], "round_trips": []} for k in ("next", "submit")}
        app = create_app(ServerSettings(worker=False, db_url=url), db=db)
        with TestClient(app) as client:

            def call(kind: str, measured: bool, path: str, **kwargs):
                before = _logged(log) if log is not None and measured else 0
                sent[0] = 0
                started = time.process_time()
                response = client.post(path, **kwargs)
                cpu = time.process_time() - started
                if response.status_code not in (200, 201):
                    raise SystemExit(f"{kind}: {response.status_code} {response.text}")
                if measured:
                    out[kind]["cpu"].append(cpu)
                    out[kind]["statements"].append(sent[0])
                    if log is not None:
                        out[kind]["round_trips"].append(_logged(log) - before)
                return response.json()

            for i in range(warmup + calls):
                auth = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
                measured = i >= warmup
                path = f"/api/v1/projects/{project_id}/tasks/next"
                task = call("next", measured, path, headers=auth)
                key = {"Idempotency-Key": f"{task['id']}-{task['lease_id']}"}
                call(
                    "submit",
                    measured,
                    f"/api/v1/tasks/{task['id']}/annotations",
                    json={"label": serve_load.LABELS[0]},
                    headers={**auth, **key},
                )
        return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--calls", type=int, default=150, help="measured lease+submit pairs")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-log", action="store_true", help="no PostgreSQL statement log")
    args = parser.parse_args(argv)
    print("| store | call | statements | round trips | CPU ms p50 | CPU ms mean |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for backend in args.backend:
        found = measure(
            backend, calls=args.calls, warmup=args.warmup, log_statements=not args.no_log
        )
        for kind, m in found.items():
            cpu = sorted(m["cpu"])
            trips = m["round_trips"]
            trips_text = f"{sum(trips) / len(trips):.1f}" if trips else "-"
            print(
                f"| {backend} | {kind} | {sum(m['statements']) / len(cpu):.1f} | {trips_text} | ",
                end="",
            )
            print(f"{1000 * cpu[len(cpu) // 2]:.2f} | {1000 * sum(cpu) / len(cpu):.2f} |")


if __name__ == "__main__":
    main()
