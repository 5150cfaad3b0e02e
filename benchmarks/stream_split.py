"""Where a stream decision's time goes: reads, scoring, transaction, commit, per offer.

Runs ``offer_item`` on a SQLite file in this process (the project of ``stream.py``) and
splits every offer's wall time at four points the store's own SQLAlchemy events mark:

- **reads**: from the call to the end of the read transaction (project, ranking model,
  certified cut, and the record's checks);
- **scoring**: from there to the write transaction's ``BEGIN IMMEDIATE`` (the model's
  one-row transform and prediction, the policy);
- **transaction**: from ``BEGIN IMMEDIATE`` to the commit (the decision's statements);
- **commit**: the ``COMMIT`` itself and the return (where SQLite runs an automatic
  write-ahead-log checkpoint, when the commit crosses ``wal_autocheckpoint``).

It also counts the statements per offer, the CPU time of the deciding thread
(``time.thread_time``), and the write-ahead log's checkpoints: the log's header holds a
checkpoint sequence number that SQLite raises each time it starts the log over after a
complete checkpoint, read after every offer. ``--profile`` adds a cProfile of the
slowest offers. Run from a tree, main and a branch in turn, in the same conditions::

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python benchmarks/stream_split.py --offers 1000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import event


def _wal_sequence(database: Path) -> int | None:
    """The write-ahead log's checkpoint sequence number (bytes 12-16 of its header)."""
    try:
        with open(str(database) + "-wal", "rb") as wal:
            header = wal.read(16)
    except FileNotFoundError:
        return None
    return struct.unpack(">I", header[12:16])[0] if len(header) == 16 else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=1000)
    parser.add_argument("--profile", type=int, default=0, help="cProfile the N slowest offers")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).parent))
    from stream import _text_project

    import labelloop
    from labelloop.engine.stream import offer_item

    print(f"labelloop from {Path(labelloop.__file__).parent}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        ws, project, _token, words = _text_project(Path(tmp))
        database = Path(tmp) / "stream.db"
        db = ws.db
        with db.engine.connect() as conn:
            autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        rng = np.random.default_rng(1)

        def record(i: int) -> dict:
            text = " ".join(rng.choice(words["pos"] + words["neg"], 4)) + f" arrival {i}"
            return {"id": f"s{i}", "text": text}

        marks: dict[str, float] = {}
        statements = [0]

        def on_begin(conn) -> None:
            if conn.get_execution_options().get("labelloop_write", False):
                marks.setdefault("begin", time.perf_counter())

        def on_end(_conn) -> None:
            # The read transaction ends first (committed or rolled back), then the write.
            marks["commit" if "begin" in marks else "read_end"] = time.perf_counter()

        def on_statement(*_args) -> None:
            statements[0] += 1

        event.listen(db.engine, "begin", on_begin)
        event.listen(db.engine, "rollback", on_end)
        event.listen(db.engine, "commit", on_end)
        event.listen(db.engine, "before_cursor_execute", on_statement)

        for i in range(20):  # warm-up: the model is loaded once per process
            offer_item(db, project=project.id, record=record(10_000 + i), actor="bench")
        rows = []
        checkpoints_at: list[int] = []
        sequence = _wal_sequence(database)
        for i in range(args.offers):
            r = record(i)
            marks.clear()
            statements[0] = 0
            cpu = time.thread_time()
            start = time.perf_counter()
            offer_item(db, project=project.id, record=r, actor="bench")
            end = time.perf_counter()
            cpu = time.thread_time() - cpu
            now = _wal_sequence(database)
            if now != sequence:
                checkpoints_at.append(i)
                sequence = now
            rows.append(
                (
                    end - start,
                    marks["read_end"] - start,
                    marks["begin"] - marks["read_end"],
                    marks["commit"] - marks["begin"],
                    end - marks["commit"],
                    cpu,
                    statements[0],
                )
            )
        checker = getattr(db, "_checkpointer", None)
        background = (
            None
            if checker is None
            else f"{checker.passive} passive, {checker.truncated} truncate, {checker.busy} busy"
        )
        wal_bytes = os.path.getsize(str(database) + "-wal")
        took = np.array(rows)
        order = np.argsort(took[:, 0])
        slow = order[-max(1, len(order) // 100) :]  # the slowest 1%: the p99 offers
        names = ("total", "reads", "scoring", "transaction", "commit", "CPU")
        print(
            f"\n{args.offers} offers; wal_autocheckpoint={autocheckpoint} pages, "
            f"synchronous={synchronous}; statements per offer "
            f"{int(np.median(took[:, 6]))} (max {int(took[:, 6].max())})"
        )
        print(
            f"WAL restarts after a checkpoint during the offers: {len(checkpoints_at)}; "
            f"background checkpoints: {background}; -wal file at the end: "
            f"{wal_bytes / 1024:.0f} KiB"
        )
        print("\n| ms | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for label, value in (
            ("p50", lambda c: np.percentile(took[:, c], 50)),
            ("p99", lambda c: np.percentile(took[:, c], 99)),
            ("mean", lambda c: took[:, c].mean()),
            ("mean of the slowest 1%", lambda c: took[slow, c].mean()),
        ):
            print(f"| {label} | " + " | ".join(f"{value(c) * 1e3:.2f}" for c in range(6)) + " |")
        # A commit that checkpoints the whole log is followed by the log's restart in the
        # next offer's first write: the checkpointing offer is the one before a restart.
        near = sum(any(c - 1 <= s <= c for c in checkpoints_at) for s in slow)
        print(f"\nslowest 1% at a WAL restart or the offer before it: {near} of {len(slow)}")

        if args.profile:
            profiles = []
            for i in range(args.offers):
                profile = cProfile.Profile()
                r = record(50_000 + i)
                start = time.perf_counter()
                profile.enable()
                offer_item(db, project=project.id, record=r, actor="bench")
                profile.disable()
                profiles.append((time.perf_counter() - start, i, profile))
                profiles.sort(key=lambda p: p[0], reverse=True)
                del profiles[args.profile :]
            merged = pstats.Stats(profiles[0][2])
            for _took, _i, profile in profiles[1:]:
                merged.add(profile)
            out = io.StringIO()
            merged.stream = out
            merged.sort_stats("tottime").print_stats(15)
            print(f"\ncProfile of the {len(profiles)} slowest offers (profiled pass):")
            print(", ".join(f"{p[0] * 1e3:.1f} ms" for p in profiles))
            print(out.getvalue())
        ws.close()


if __name__ == "__main__":
    main()
