"""Load on a running ``labelloop serve``: simulated annotators leasing and submitting tasks.

For each pool size (default 100,000 items; ``--items 100000 1000000`` for both), the
benchmark builds a project through the engine's bulk import, starts ``labelloop serve``
in its own process (or drives ``--url`` on the same ``--db``), then runs from this
process over loopback HTTP:

(a) ``--annotators`` (50) simulated annotators, each leasing a task, thinking for an
    exponentially distributed time (mean ``--think`` = 1 s), submitting, thinking
    again; p50/p99 latency of ``tasks/next`` and of the submit;
(b) saturation: the same annotators with no think time; tasks per second and latency.

Beside the latency the client measures, the table gives the p99 of the server's own time
per call (the ``app`` duration of its ``Server-Timing`` header): the difference is
queueing outside the app (the network, an event loop busy with other requests, the
load client itself on a shared machine).

Each phase runs ``--warmup`` seconds (default 5) before its ``--duration`` is measured:
a server that has just started compiles its statements and opens its database
connections on its first requests, and the table reports the steady state. The HTTP
clients are all made before a phase starts, so the first requests do not arrive in a
burst held back by the load generator.

Run::

    .venv/bin/python benchmarks/serve_load.py --items 100000 --duration 60

``--backend sqlite postgres`` runs the same load against each store in turn, side by
side: for ``postgres`` the benchmark starts a throw-away PostgreSQL cluster of its own
(``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``, run as the ``postgres``
system user when the benchmark runs as root, as the test set-up does; its data in
``/dev/shm`` when there is room), or uses ``--pg-url``. After each run it reads the
store and counts tasks that were ever leased to two annotators at once (two leases of
one task, by different users, whose open intervals overlap) beyond what the task
needs, and items annotated more often than their task asked: both must be 0.

The issue's load (4 server processes, 200 annotators) on both stores::

    nice .venv/bin/python benchmarks/serve_load.py --backend sqlite postgres \
        --workers 4 --annotators 200 --items 100000 --duration 30

The server runs with its worker off and ``retrain_every`` 0, so the numbers are the
request path alone (a retrain competes for the CPU, not for the queue's lock).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import pwd
import random
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import text

from labelloop.engine import ingest, projects, users
from labelloop.store.db import Database

LABELS = ["pos", "neg", "neutral"]
WORDS = [
    "good",
    "bad",
    "fine",
    "plot",
    "actor",
    "scene",
    "slow",
    "fast",
    "story",
    "music",
    "long",
    "short",
    "dull",
    "bright",
]


@dataclass
class Latencies:
    """Seconds per request, by kind, and the statuses seen."""

    lease: list[float] = field(default_factory=list)
    submit: list[float] = field(default_factory=list)
    # The server's own time per call, from its Server-Timing header (``app``).
    server_lease: list[float] = field(default_factory=list)
    server_submit: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    tasks: int = 0
    transport_errors: int = 0
    server_cpu: float | None = None

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def server_seconds(response: httpx.Response) -> float | None:
    """The server's own time for a call, from ``Server-Timing: app;dur=<ms>, ...``; None
    when the server sends no such header (a labelloop from before it)."""
    for metric in response.headers.get("server-timing", "").split(","):
        name, _, params = metric.strip().partition(";")
        if name == "app":
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "dur":
                    return float(value) / 1000
    return None


def _records(n: int):
    rng = random.Random(0)
    for i in range(n):
        yield {"id": f"doc-{i}", "text": " ".join(rng.choices(WORDS, k=12))}


def build_project(db: Database, *, n_items: int, n_annotators: int) -> tuple[int, list[str]]:
    """A project of ``n_items`` text items and annotator tokens, through the engine."""
    name = f"load-{n_items}-{time.time_ns()}"
    project = projects.create_project(
        db,
        actor="bench",
        name=name,
        task_type="classification",
        labels=LABELS,
        settings={"retrain_every": 0},
    )
    started = time.perf_counter()
    ingest.import_items(db, actor="bench", project=project.id, records=_records(n_items))
    print(f"imported {n_items:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    tokens = []
    for i in range(n_annotators):
        _info, token = users.create_user(
            db, actor="bench", name=f"{name}-a{i}", role="annotator", projects=[project.id]
        )
        tokens.append(token)
    return project.id, tokens


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(path: Path) -> list[str] | None:
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time so far of a process and its children (Linux), or None."""
    if pid is None or _stat(Path(f"/proc/{pid}/stat")) is None:
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(stat)
        if fields is not None and (stat.parent.name == str(pid) or fields[1] == str(pid)):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


PG_USER = "postgres"


def _pg_bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise SystemExit(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
        "or on PATH: `apt-get install postgresql`, or give --pg-url"
    )


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def throwaway_postgres(max_connections: int = 300):
    """A PostgreSQL cluster of its own on a free loopback port, for this run: its URL.

    Default durability settings (``fsync`` on, ``synchronous_commit`` on), unlike the
    test set-up, which turns them off; the data directory lives in ``/dev/shm`` when it
    has room, so fsync costs little there.
    """
    bin_dir = _pg_bin_dir()
    parent = next(
        (
            d
            for d in ("/dev/shm", "/tmp")
            if os.access(d, os.W_OK) and shutil.disk_usage(d).free > 2**31
        ),
        None,
    )
    root = Path(tempfile.mkdtemp(prefix="labelloop-load-pg-", dir=parent))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(PG_USER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log = root / "data", root / "server.log"

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            _as_server_user(argv), cwd=root, capture_output=True, text=True, timeout=120
        )

    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust"]
        result = run([*initdb, "-E", "UTF8", "--locale=C"])
        if result.returncode != 0:
            raise SystemExit(f"initdb failed:\n{result.stdout}{result.stderr}")
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
            f"-c max_connections={max_connections} -c shared_buffers=256MB"
        )
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
        result = run([*pg_ctl, "-o", options, "start"])
        if result.returncode != 0:
            raise SystemExit(f"PostgreSQL did not start:\n{result.stderr}")
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])
        shutil.rmtree(root, ignore_errors=True)


# The benchmark's project asks one annotation an item (overlap 1, the default), so no
# task may be held by two annotators at once. Two leases of one task by different users
# whose open intervals overlap: the task was held by both at once. A lease is open from
# ``leased_at`` until it is closed (submitted, skipped, expired) or, if never closed,
# until it expires.
_OVERLAPS = text(
    """
    SELECT count(DISTINCT a.task_id)
    FROM task_leases a
    JOIN task_leases b ON b.task_id = a.task_id AND b.id > a.id AND b.user_id != a.user_id
    WHERE a.project_id = :project_id
      AND a.leased_at < COALESCE(b.closed_at, b.expires_at)
      AND b.leased_at < COALESCE(a.closed_at, a.expires_at)
    """
)
_OVER_ANNOTATED = text(
    """
    SELECT count(*) FROM (
        SELECT a.item_id FROM annotations a JOIN items i ON i.id = a.item_id
        WHERE i.project_id = :project_id AND a.status = 'active'
        GROUP BY a.item_id HAVING count(*) > 1
    ) over_annotated
    """
)


def leased_twice(db_url: str, project_id: int) -> tuple[int, int, int]:
    """From the store after a run: (tasks held by two annotators at once, items with more
    than one active annotation, leases in all)."""
    db = Database(db_url)
    try:
        with db.read_connection() as conn:
            overlaps = conn.execute(_OVERLAPS, {"project_id": project_id}).scalar_one()
            over = conn.execute(_OVER_ANNOTATED, {"project_id": project_id}).scalar_one()
            leases = conn.execute(
                text("SELECT count(*) FROM task_leases WHERE project_id = :p"), {"p": project_id}
            ).scalar_one()
        return int(overlaps), int(over), int(leases)
    finally:
        db.dispose()


@contextlib.contextmanager
def running_server(db_url: str, *, workers: int = 1, serve_options: tuple[str, ...] = ()):
    """``labelloop serve`` on a free loopback port, in its own process: (url, pid).

    ``serve_options`` are added to its command line (``--http h11``, ...)."""
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("labelloop")),
        "serve",
        "--db",
        db_url,
        "--port",
        str(port),
        "--no-worker",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        *serve_options,
    ]
    process = subprocess.Popen(command, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit("labelloop serve exited before answering")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("labelloop serve did not answer within 120 s")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _annotator(
    http: httpx.AsyncClient,
    project_id: int,
    *,
    think: float,
    until: float,
    measure_from: float,
    out: Latencies,
    rng: random.Random,
) -> None:
    if think:
        await asyncio.sleep(rng.expovariate(1 / think))  # annotators do not start in step
    while time.monotonic() < until:
        measured = time.monotonic() >= measure_from
        started = time.perf_counter()
        response = await _post(http, out, f"/projects/{project_id}/tasks/next")
        if measured:
            out.lease.append(time.perf_counter() - started)
            _add(out.server_lease, server_seconds(response))
        out.count(response.status_code)
        if response.status_code != 200:
            return
        task = response.json()
        if think:
            await asyncio.sleep(rng.expovariate(1 / think))
        started = time.perf_counter()
        response = await _post(
            http,
            out,
            f"/tasks/{task['id']}/annotations",
            json={"label": rng.choice(LABELS)},
            headers={"Idempotency-Key": f"{task['id']}-{task['lease_id']}"},
        )
        if measured:
            out.submit.append(time.perf_counter() - started)
            _add(out.server_submit, server_seconds(response))
            out.tasks += 1
        out.count(response.status_code)


def _add(values: list[float], value: float | None) -> None:
    if value is not None:
        values.append(value)


async def _post(http: httpx.AsyncClient, out: Latencies, path: str, **kwargs) -> httpx.Response:
    """POST, retried after a dropped connection (both calls are safe to repeat: asking
    again returns the lease held, a submit carries an Idempotency-Key)."""
    for _attempt in range(2):
        try:
            return await http.post(path, **kwargs)
        except httpx.TransportError:  # e.g. the server closed an idle keep-alive connection
            out.transport_errors += 1
    return await http.post(path, **kwargs)


async def _drive(
    url: str,
    tokens: list[str],
    project_id: int,
    *,
    think: float,
    duration: float,
    warmup: float = 0.0,
    pid: int | None = None,
) -> tuple[Latencies, float]:
    """Run the annotators for ``warmup`` + ``duration`` seconds; measure the last ``duration``.

    Returns the latencies and tasks of the measured part and its length in seconds; with
    the server's ``pid``, ``server_cpu`` holds its CPU seconds over the measured part.
    """
    out = Latencies()
    async with contextlib.AsyncExitStack() as stack:
        # Every client is made before the clock starts: making one costs ~30 ms of this
        # process's CPU (an SSL context), and making them as the annotators start would
        # hold back the first requests and then send them to the server in one burst.
        # One SSL context for all (the URL is plain HTTP; httpx makes one per client
        # unless given one).
        context = ssl.create_default_context()
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=f"{url}/api/v1",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                    verify=context,
                )
            )
            for token in tokens
        ]
        measure_from = time.monotonic() + warmup
        until = measure_from + duration

        async def server_cpu() -> None:
            await asyncio.sleep(warmup)
            before = _cpu_seconds(pid)
            await asyncio.sleep(max(until - time.monotonic(), 0))
            after = _cpu_seconds(pid)
            out.server_cpu = None if before is None or after is None else after - before

        await asyncio.gather(
            server_cpu(),
            *(
                _annotator(
                    http,
                    project_id,
                    think=think,
                    until=until,
                    measure_from=measure_from,
                    out=out,
                    rng=random.Random(i),
                )
                for i, http in enumerate(clients)
            ),
        )
        return out, time.monotonic() - measure_from


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q) * 1000) if values else float("nan")


def _row(
    backend: str, items: int, phase: str, result: Latencies, elapsed: float, cpu: float | None
) -> str:
    bad = {k: v for k, v in result.statuses.items() if k not in (200, 201, 204)}
    per_task = f"{cpu / result.tasks * 1000:.1f}" if cpu is not None and result.tasks else "n/a"
    return (
        f"| {backend} | {items:,} | {phase} | {result.tasks:,} | {result.tasks / elapsed:.1f} "
        f"| {_ms(result.lease, 50):.1f} | {_ms(result.lease, 99):.1f} "
        f"| {_ms(result.server_lease, 99):.1f} "
        f"| {_ms(result.submit, 50):.1f} | {_ms(result.submit, 99):.1f} "
        f"| {_ms(result.server_submit, 99):.1f} "
        f"| {per_task} | {sum(bad.values()) if bad else 0} | {result.transport_errors} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000])
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured per phase")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds each phase runs before it is measured (a fresh server compiles its "
        "statements and opens its connections on the first requests)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--backend",
        nargs="+",
        choices=["sqlite", "postgres"],
        default=["sqlite"],
        help="stores to run against, in turn (postgres: a throw-away cluster, or --pg-url)",
    )
    parser.add_argument(
        "--pg-url", help="an existing PostgreSQL database to use (a new project is added)"
    )
    parser.add_argument(
        "--skip-saturation", action="store_true", help="measure the think-time phase only"
    )
    parser.add_argument(
        "--http", help="the server's HTTP parser (serve --http; default: serve's own)"
    )
    parser.add_argument("--loop", help="the server's event loop (serve --loop; default: serve's)")
    parser.add_argument("--url", help="drive this running server (give its --db too)")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file per size)")
    args = parser.parse_args(argv)
    if args.url and not args.db:
        parser.error("--url needs the server's --db, to create the project and users")

    header = (
        "| store | items | phase | tasks | tasks/s | next p50 ms | next p99 ms "
        "| next p99 in server ms | submit p50 ms | submit p99 ms | submit p99 in server ms "
        "| server CPU ms/task | errors | retried |\n"
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |"
    )
    phases = [(f"think ~Exp({args.think:g} s)", args.think)]
    if not args.skip_saturation:
        phases.append(("saturation", 0.0))
    rows, checks = [], []
    for backend in args.backend:
        for n_items in args.items:
            with contextlib.ExitStack() as stack:
                workdir = Path(tempfile.mkdtemp(prefix="labelloop-load-"))
                stack.callback(shutil.rmtree, workdir, ignore_errors=True)
                if args.db:
                    db_url = args.db
                elif backend == "postgres":
                    db_url = args.pg_url or stack.enter_context(
                        throwaway_postgres(max_connections=max(300, 40 * args.workers))
                    )
                else:
                    db_url = f"sqlite:///{workdir / 'load.db'}"
                db = Database(db_url)
                db.create_schema()
                project_id, tokens = build_project(
                    db, n_items=n_items, n_annotators=args.annotators
                )
                db.dispose()
                serve_options = tuple(
                    part
                    for option, value in (("--http", args.http), ("--loop", args.loop))
                    if value
                    for part in (option, value)
                )
                server = (
                    running_server(db_url, workers=args.workers, serve_options=serve_options)
                    if not args.url
                    else _given(args.url)
                )
                with server as (url, pid):
                    for phase, think in phases:
                        result, elapsed = asyncio.run(
                            _drive(
                                url,
                                tokens,
                                project_id,
                                think=think,
                                duration=args.duration,
                                warmup=args.warmup,
                                pid=pid,
                            )
                        )
                        rows.append(
                            _row(backend, n_items, phase, result, elapsed, result.server_cpu)
                        )
                        print(header.splitlines()[0], rows[-1], sep="\n", flush=True)
                overlaps, over, leases = leased_twice(db_url, project_id)
                checks.append(
                    f"{backend}, {n_items:,} items: {leases:,} leases; tasks held by two "
                    f"annotators at once: {overlaps}; items annotated twice: {over}"
                )
                print(checks[-1], flush=True)
    print()
    print(
        f"{args.annotators} annotators, {args.workers} server process(es) "
        f"(--http {args.http or 'default'}, --loop {args.loop or 'default'}), "
        f"{args.duration:g} s measured per phase after {args.warmup:g} s of warm-up"
    )
    print(header)
    print("\n".join(rows))
    print()
    print("\n".join(checks))
    if any(not c.endswith("at once: 0; items annotated twice: 0") for c in checks):
        raise SystemExit("a task was leased to two annotators at once")


@contextlib.contextmanager
def _given(url: str):
    yield url.rstrip("/"), None


if __name__ == "__main__":
    main()
