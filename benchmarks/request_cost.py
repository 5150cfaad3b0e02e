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
``--profile N`` profiles N measured pairs (cProfile, the calls only: no warm-up) in
every thread that serves them (the event loop's and the thread pool's, where the
routes and guards run; not the client's), timed by each thread's CPU clock, and
prints each kind of call's profile sorted by cumulative and by own time::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/request_cost.py --backend postgres \
        --no-log --calls 100 --profile 100
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

import anyio.to_thread
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


class ServerProfiles:
    """cProfile of the app's threads, one profiler per (call kind, thread), so the
    event loop and every thread-pool thread are seen; merged per kind at the end. The
    clock is each thread's CPU time, not the wall clock."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.by_kind: dict[str, list[cProfile.Profile]] = {}
        self._local = threading.local()
        self._run_sync = anyio.to_thread.run_sync

    def _profiler(self) -> cProfile.Profile | None:
        if self.kind is None:
            return None
        mine = self._local.__dict__.setdefault("profilers", {})
        if self.kind not in mine:
            # Each profiler belongs to one thread, so the thread's CPU clock measures
            # what its functions cost (waiting on the database or a lock costs nothing).
            mine[self.kind] = cProfile.Profile(time.thread_time)
            self.by_kind.setdefault(self.kind, []).append(mine[self.kind])
        return mine[self.kind]

    def start_here(self) -> None:
        """Profile the calling thread (the event loop's) until `stop_here`."""
        profiler = self._profiler()
        if profiler is not None:
            profiler.enable()

    def stop_here(self) -> None:
        for profiler in self._local.__dict__.get("profilers", {}).values():
            profiler.disable()

    def install(self) -> None:
        """Profile every function Starlette and FastAPI hand to the thread pool."""
        run_sync = self._run_sync

        async def profiled(func, *args, **kwargs):
            def run(*inner):
                profiler = self._profiler()
                if profiler is None:
                    return func(*inner)
                profiler.enable()
                try:
                    return func(*inner)
                finally:
                    profiler.disable()

            return await run_sync(run, *args, **kwargs)

        anyio.to_thread.run_sync = profiled

    def uninstall(self) -> None:
        anyio.to_thread.run_sync = self._run_sync

    def merged(self) -> dict[str, pstats.Stats]:
        out = {}
        for kind, profilers in self.by_kind.items():
            stats = pstats.Stats(profilers[0])
            for profiler in profilers[1:]:
                stats.add(profiler)
            out[kind] = stats
        return out


def measure(
    backend: str,
    *,
    calls: int,
    warmup: int,
    log_statements: bool,
    profile: int = 0,
) -> dict:
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
        profiles = ServerProfiles() if profile else None
        if profiles is not None:
            profiles.install()
            stack.callback(profiles.uninstall)
        app = create_app(ServerSettings(worker=False, db_url=url), db=db)
        with TestClient(app) as client:

            def call(kind: str, measured: bool, path: str, **kwargs):
                before = _logged(log) if log is not None and measured else 0
                sent[0] = 0
                profiling = profiles is not None and measured and profiled[0]
                if profiling:
                    profiles.kind = kind
                    client.portal.call(profiles.start_here)
                started = time.process_time()
                response = client.post(path, **kwargs)
                cpu = time.process_time() - started
                if profiling:
                    client.portal.call(profiles.stop_here)
                    profiles.kind = None
                if response.status_code not in (200, 201):
                    raise SystemExit(f"{kind}: {response.status_code} {response.text}")
                if measured:
                    out[kind]["cpu"].append(cpu)
                    out[kind]["statements"].append(sent[0])
                    if log is not None:
                        out[kind]["round_trips"].append(_logged(log) - before)
                return response.json()

            profiled = [False]
            for i in range(warmup + calls):
                profiled[0] = warmup <= i < warmup + profile
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
        if profiles is not None:
            out["profiles"] = profiles.merged()
        return out


def print_profile(title: str, stats: pstats.Stats, *, lines: int) -> None:
    """``stats``' functions, by cumulative time and by own time."""
    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        stats.stream = buffer
        stats.strip_dirs().sort_stats(order).print_stats(lines)
        print(f"\n## {title}, sorted by {order}\n")
        print(buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--calls", type=int, default=150, help="measured lease+submit pairs")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-log", action="store_true", help="no PostgreSQL statement log")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="cProfile the server's threads over the first N measured pairs and print "
        "the profiles (its overhead inflates the CPU column of those calls)",
    )
    parser.add_argument("--profile-lines", type=int, default=40, help="rows per profile")
    args = parser.parse_args(argv)
    if args.profile < 0 or args.profile > args.calls:
        parser.error(f"--profile must be between 0 and --calls ({args.calls})")
    profiles = []
    print("| store | call | statements | round trips | CPU ms p50 | CPU ms mean |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for backend in args.backend:
        found = measure(
            backend,
            calls=args.calls,
            warmup=args.warmup,
            log_statements=not args.no_log,
            profile=args.profile,
        )
        for kind, profiler in found.pop("profiles", {}).items():
            profiles.append((f"{backend} {kind}, {args.profile} calls", profiler))
        for kind, m in found.items():
            cpu = sorted(m["cpu"])
            trips = m["round_trips"]
            trips_text = f"{sum(trips) / len(trips):.1f}" if trips else "-"
            print(
                f"| {backend} | {kind} | {sum(m['statements']) / len(cpu):.1f} | {trips_text} | ",
                end="",
            )
            print(f"{1000 * cpu[len(cpu) // 2]:.2f} | {1000 * sum(cpu) / len(cpu):.2f} |")
    for title, profiler in profiles:
        print_profile(title, profiler, lines=args.profile_lines)


if __name__ == "__main__":
    main()
