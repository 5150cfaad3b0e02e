"""Write-ahead-log checkpoints of a SQLite file, off the writers' path.

In WAL mode a commit appends its pages to ``<database>-wal``; a *checkpoint* copies
them back into the database file and syncs it. SQLite runs one by itself inside the
commit that takes the log past ``wal_autocheckpoint`` pages (1,000 by default, about
every 17 stream decisions), and that commit waits for the copy and the sync: the slowest
one percent of writes. The rules kept here:

1. Every connection of the store sets ``wal_autocheckpoint`` to `SAFETY_PAGES` (about
   40 MB of log at 4 KiB pages): a writer checkpoints by itself only past that, so the
   log stays bounded in a process that runs no checkpointer (or whose checkpointer is
   behind: a reader holding an old snapshot, a stopped thread).
2. A `Checkpointer` thread per process and database file runs
   ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection once `COMMITS_PER_CHECKPOINT`
   commits have gone by or `CHECKPOINT_AFTER` seconds after a commit, whichever comes
   first. A PASSIVE checkpoint takes no lock that writers or readers wait for: it copies
   what no reader still needs and leaves the rest to the next one.
3. When no commit has come for `IDLE_AFTER` seconds it runs
   ``PRAGMA wal_checkpoint(TRUNCATE)`` in the writers' queue (so a writer that arrives
   meanwhile waits its turn there, not in SQLite's busy handler), which empties the
   log file, and the thread ends; the next commit starts another.
4. Several processes on one file each run their own; SQLite lets one checkpoint run at
   a time, and one that finds another running (``SQLITE_BUSY``) is counted as busy and
   tried again `CHECKPOINT_AFTER` seconds later.
5. Durability is SQLite's ``synchronous=NORMAL`` in WAL mode, as before: a checkpoint
   syncs the log before it copies it, so it only ever moves committed pages that are
   already durable in the log; it changes nothing a commit promises.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path

__all__ = [
    "CATCH_UP_ATTEMPTS",
    "CHECKPOINT_AFTER",
    "COMMITS_PER_CHECKPOINT",
    "IDLE_AFTER",
    "SAFETY_PAGES",
    "Checkpointer",
]

#: Rule 1: the writers' own checkpoint threshold, in pages.
SAFETY_PAGES = 10_000
#: Rule 2: checkpoint after this many commits ...
COMMITS_PER_CHECKPOINT = 50
#: ... or this many seconds after a commit.
CHECKPOINT_AFTER = 0.5
#: Rule 2: PASSIVE checkpoints in a row at most, until one finds the whole log copied.
CATCH_UP_ATTEMPTS = 4
#: Rule 3: seconds without a commit before the log file is truncated and the thread ends.
IDLE_AFTER = 5.0


class Checkpointer:
    """Rule 2's thread for one SQLite file in this process.

    Parameters
    ----------
    path : Path
        The database file.
    writer_queue : context manager
        The store's queue of writers, taken for the idle ``TRUNCATE`` (rule 3).

    Attributes
    ----------
    passive, truncated, busy : int
        Checkpoints run in each mode, and those that found another one under way.
    """

    def __init__(self, path: Path, writer_queue: AbstractContextManager) -> None:
        self._path = Path(path)
        self._writer_queue = writer_queue
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending = 0
        self._last_commit = 0.0
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._closed = False
        self.passive = 0
        self.truncated = 0
        self.busy = 0

    def committed(self) -> None:
        """A write transaction committed: count it, and start the thread if none runs."""
        with self._lock:
            if self._closed:
                return
            self._pending += 1
            self._last_commit = time.monotonic()
            if self._thread is None or self._pid != os.getpid():  # a forked child starts its own
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name=f"labelloop-checkpoint:{self._path.name}", daemon=True
                )
                self._thread.start()
            elif self._pending >= COMMITS_PER_CHECKPOINT:
                self._wake.notify()

    def _next_step(self) -> str:
        """Wait for the next thing to do: ``passive``, ``truncate`` or ``stop``."""
        with self._lock:
            while True:
                if self._closed:
                    return "stop"
                now = time.monotonic()
                if self._pending >= COMMITS_PER_CHECKPOINT or (
                    self._pending and now - self._last_commit >= CHECKPOINT_AFTER
                ):
                    self._pending = 0
                    return "passive"
                if not self._pending and now - self._last_commit >= IDLE_AFTER:
                    return "truncate"
                due = CHECKPOINT_AFTER if self._pending else IDLE_AFTER
                self._wake.wait(max(0.01, self._last_commit + due - now))

    def _run(self) -> None:
        conn = None
        try:
            # timeout=0: a checkpoint that meets another process's is busy, never waits.
            conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
            while True:
                step = self._next_step()
                if step == "stop":
                    return
                if step == "passive":
                    if not self._checkpoint(conn, "PASSIVE"):
                        self._retry_later()
                    continue
                with self._writer_queue:
                    self._checkpoint(conn, "TRUNCATE")
                with self._lock:  # a commit may have come while the queue was held
                    if self._pending or self._closed:
                        continue
                    self._thread = None
                    return
        except sqlite3.Error:
            with self._lock:  # the file is gone or unreadable: the next commit tries again
                self._thread = None
        finally:
            if conn is not None:
                conn.close()

    def _retry_later(self) -> None:
        """A checkpoint found another under way (rule 4): try again after a pause, even if
        no commit comes meanwhile."""
        with self._lock:
            self._pending = max(self._pending, 1)
            if not self._closed:
                self._wake.wait(CHECKPOINT_AFTER)

    def _checkpoint(self, conn: sqlite3.Connection, mode: str) -> bool:
        """Run one checkpoint; False if another one was under way."""
        # The log starts over only once a checkpoint has copied all of it, and commits go
        # on during one: catch up on what they added (a few pages) a few times.
        for _attempt in range(CATCH_UP_ATTEMPTS):
            try:
                busy, log, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            except sqlite3.OperationalError:  # locked by another process's checkpoint (rule 4)
                busy, log, copied = 1, 0, 0
            if busy:
                self.busy += 1
                return False
            if mode == "PASSIVE":
                self.passive += 1
            else:
                self.truncated += 1
            if copied >= log:
                break
        return True

    def close(self) -> None:
        """Stop the thread (it finishes a checkpoint under way first)."""
        with self._lock:
            self._closed = True
            self._wake.notify()
            thread, mine = self._thread, self._pid == os.getpid()
        if thread is not None and mine and thread is not threading.current_thread():
            thread.join(timeout=30)
