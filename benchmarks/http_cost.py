"""Server CPU per call over loopback HTTP, for each HTTP parser and event loop of ``serve``.

`request_cost.py` runs the app in process through Starlette's test client, so uvicorn's
HTTP parser and event loop are not in what it measures; `serve_load.py`'s server CPU
per task includes them but moves with everything else the box runs. Here one client
sends calls one after another (one keep-alive connection) to a real ``labelloop serve``
(one process, worker off) and reads that process's CPU time (user + system, from
``/proc``) before and after each block of calls:

- ``GET /healthz``: no database, so the HTTP stack, the routing and a small response;
- ``tasks/next`` followed by its submit, as an annotator does.

Each stack (``--stacks``, ``http:loop`` as ``serve --http``/``--loop`` take them) serves
in turn, ``--rounds`` times each, alternating (A B A B ...), a fresh server each time on
the same project, so a change in the box's load hits every stack alike. The CPU clock
counts 10 ms ticks, so each block runs enough calls to make that small.

Run::

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD nice -n 10 .venv/bin/python benchmarks/http_cost.py \
        --backend sqlite postgres --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import serve_load  # noqa: E402

from labelloop.store.db import Database  # noqa: E402


def _server_cpu_per_call(pid: int, calls: int, call) -> float:
    """The server's CPU milliseconds per call, over ``calls`` calls."""
    before = serve_load._cpu_seconds(pid)
    for i in range(calls):
        call(i)
    after = serve_load._cpu_seconds(pid)
    if before is None or after is None:
        raise SystemExit(f"cannot read the CPU time of process {pid} from /proc")
    return (after - before) * 1000 / calls


def measure_stack(
    db_url: str,
    project_id: int,
    tokens: list[str],
    stack: str,
    *,
    health_calls: int,
    pairs: int,
    warmup: int,
) -> tuple[float, float]:
    """(healthz CPU ms per call, next + submit CPU ms per pair) of one fresh server."""
    http, loop = stack.split(":")
    options = ("--http", http, "--loop", loop)
    with (
        serve_load.running_server(db_url, serve_options=options) as (url, pid),
        httpx.Client(base_url=url, timeout=60) as client,
    ):

        def health(_i: int) -> None:
            response = client.get("/healthz")
            if response.status_code != 200:
                raise SystemExit(f"/healthz: {response.status_code} {response.text}")

        def pair(i: int) -> None:
            auth = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            response = client.post(f"/api/v1/projects/{project_id}/tasks/next", headers=auth)
            if response.status_code != 200:
                raise SystemExit(f"tasks/next: {response.status_code} {response.text}")
            task = response.json()
            response = client.post(
                f"/api/v1/tasks/{task['id']}/annotations",
                json={"label": serve_load.LABELS[0]},
                headers={**auth, "Idempotency-Key": f"{task['id']}-{task['lease_id']}"},
            )
            if response.status_code not in (200, 201):
                raise SystemExit(f"submit: {response.status_code} {response.text}")

        for i in range(warmup):
            health(i)
            pair(i)
        health_ms = _server_cpu_per_call(pid, health_calls, health)
        pair_ms = _server_cpu_per_call(pid, pairs, pair)
    return health_ms, pair_ms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument(
        "--stacks",
        nargs="+",
        default=["h11:asyncio", "httptools:uvloop"],
        help="http:loop pairs to compare, run alternately (the first is the baseline)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="fresh servers per stack")
    parser.add_argument("--health-calls", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=200, help="next + submit pairs per round")
    parser.add_argument("--warmup", type=int, default=30, help="pairs and healthz before each")
    args = parser.parse_args(argv)

    rows = []
    for backend in args.backend:
        with contextlib.ExitStack() as stack:
            if backend == "postgres":
                db_url = stack.enter_context(serve_load.throwaway_postgres())
            else:
                workdir = stack.enter_context(tempfile.TemporaryDirectory())
                db_url = f"sqlite:///{workdir}/http_cost.db"
            db = Database(db_url)
            db.create_schema()
            needed = args.rounds * len(args.stacks) * (args.pairs + args.warmup)
            project_id, tokens = serve_load.build_project(db, n_items=needed + 1000, n_annotators=5)
            db.dispose()
            found: dict[str, list[tuple[float, float]]] = {s: [] for s in args.stacks}
            for round_ in range(args.rounds):
                for name in args.stacks:
                    health_ms, pair_ms = measure_stack(
                        db_url,
                        project_id,
                        tokens,
                        name,
                        health_calls=args.health_calls,
                        pairs=args.pairs,
                        warmup=args.warmup,
                    )
                    found[name].append((health_ms, pair_ms))
                    print(
                        f"{backend} round {round_ + 1} {name}: healthz {health_ms:.2f} ms, "
                        f"next + submit {pair_ms:.2f} ms",
                        flush=True,
                    )
            base = args.stacks[0]
            base_health = statistics.median(h for h, _ in found[base])
            base_pair = statistics.median(p for _, p in found[base])
            for name in args.stacks:
                health = [h for h, _ in found[name]]
                pair = [p for _, p in found[name]]
                rows.append(
                    f"| {backend} | {name} | {' / '.join(f'{h:.2f}' for h in health)} | "
                    f"{statistics.median(health) / base_health:.2f} | "
                    f"{' / '.join(f'{p:.1f}' for p in pair)} | "
                    f"{statistics.median(pair) / base_pair:.2f} |"
                )
    print()
    print(
        f"server CPU ms per call, one process, {args.health_calls} healthz and {args.pairs} "
        f"pairs per round, rounds in the order run; ratios of medians to {args.stacks[0]}"
    )
    print("| store | http:loop | healthz ms | ratio | next + submit ms | ratio |")
    print("| --- | --- | --- | ---: | --- | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
