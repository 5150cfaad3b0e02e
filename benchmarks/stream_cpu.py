"""CPU per stream decision: the deciding thread's CPU time and wall time per offer.

The project is `benchmarks/stream.py`'s (2,000 short reviews, a trained margin model,
SQLite); after 20 warm-up offers, ``--offers`` arrivals are decided in this process by
`labelloop.engine.stream.offer_item`, each timed with ``time.thread_time`` (less
sensitive to a shared machine than wall time) and ``time.perf_counter``. With
``--profile`` the offers run under cProfile instead and the top functions by
cumulative time are printed (their shares, not their times, are what to compare).

Run it for two trees in turn (``PYTHONPATH=<tree>``) to compare them::

    PYTHONPATH=<tree> OMP_NUM_THREADS=1 nice -n 10 \
        .venv/bin/python benchmarks/stream_cpu.py --offers 1000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from stream import _text_project  # noqa: E402

import labelloop  # noqa: E402
from labelloop.engine.stream import offer_item  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ws, project, _token, words = _text_project(Path(tmp))
        rng = np.random.default_rng(1)

        def record(i: int) -> dict:
            text = " ".join(rng.choice(words["pos"] + words["neg"], 4))
            return {"id": f"s{i}", "text": f"{text} arrival {i}"}

        for i in range(20):  # warm-up: the model is loaded once per process
            offer_item(ws.db, project=project.id, record=record(10_000 + i), actor="bench")
        profile = cProfile.Profile() if args.profile else None
        cpu, wall = [], []
        for i in range(args.offers):
            arrival = record(i)
            if profile is not None:
                profile.enable()
            c, w = time.thread_time(), time.perf_counter()
            offer_item(ws.db, project=project.id, record=arrival, actor="bench")
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - w)
            if profile is not None:
                profile.disable()
        ws.close()
    print(f"tree: {Path(labelloop.__file__).parent.parent}")
    print("| measure | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for name, values in (("CPU (thread_time)", cpu), ("wall", wall)):
        print(
            f"| {name} | {np.percentile(values, 50) * 1e3:.2f} "
            f"| {np.percentile(values, 99) * 1e3:.2f} |"
        )
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
