"""Background jobs: work that runs outside request handlers, one job at a time per project.

Kinds: ``retrain`` (a round) and ``score_new`` (items imported after a round, scored by
its model; queued by the import that adds them).

A job is a row in ``jobs``: ``queued`` -> ``running`` -> ``done`` | ``failed``.
Jobs are queued through `labelloop.engine.core.outbox` (in the transaction of the change
that asks for them) or by `enqueue_retrain`. `run_next_job` claims the oldest queued job
of a project with nothing running, runs it with the runner given for its kind, and
records the outcome; `run_queued` does the same for one project's job of one kind, for
callers that want its work done now (the CLI and `Workspace` after an import).
`recover_interrupted_jobs` puts jobs a crash left ``running`` back in the queue, so an
interrupted job runs again. `JobWorker` is the thread the server starts;
`labelloop.server.worker` wires it to the use cases that do the work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from labelloop.engine.core.outbox import add_retrain, queued_retrain
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import JobRow, utcnow

__all__ = [
    "JOB_KINDS",
    "JobInfo",
    "JobWorker",
    "enqueue_retrain",
    "list_jobs",
    "recover_interrupted_jobs",
    "run_next_job",
    "run_queued",
]

JOB_KINDS = ("retrain", "score_new")
log = logging.getLogger(__name__)

# What runs one job kind: runner(db, project_id, actor); its result is summarised.
JobRunner = Callable[[Database, int | None, str], Any]


@dataclass(frozen=True)
class JobInfo:
    """A job and its outcome (``result`` holds what the job returned, as JSON)."""

    id: int
    project_id: int | None
    kind: str
    status: str
    attempts: int
    error: str | None
    result: dict[str, Any] | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


def _info(row: JobRow) -> JobInfo:
    return JobInfo(
        id=row.id,
        project_id=row.project_id,
        kind=row.kind,
        status=row.status,
        attempts=row.attempts,
        error=row.error,
        result=(row.payload or {}).get("result"),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def enqueue_retrain(db: Database, *, project_id: int | str, actor: str) -> JobInfo:
    """Queue a retrain of the project; when one is queued already, that one is returned."""
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        job = queued_retrain(session, project.id) or add_retrain(
            session, project_id=project.id, actor=actor, why="requested"
        )
        return _info(job)


def list_jobs(db: Database, *, project_id: int | None = None, limit: int = 100) -> list[JobInfo]:
    """The newest jobs first (of one project, or all)."""
    with db.read() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if project_id is not None:
            query = query.where(JobRow.project_id == project_id)
        return [_info(row) for row in session.execute(query).scalars()]


def _claim(
    db: Database, *, project_id: int | None = None, kind: str | None = None
) -> tuple[int, int | None, str, str] | None:
    """Mark the oldest queued job of a project with nothing running as running (of
    ``project_id`` and ``kind`` where given); its id, project, kind and actor."""
    wanted = [JobRow.status == "queued"]
    if project_id is not None:
        wanted.append(JobRow.project_id == project_id)
    if kind is not None:
        wanted.append(JobRow.kind == kind)
    # A read first: an idle worker's poll must not take SQLite's write lock.
    with db.read() as session:
        queued = session.execute(select(JobRow.id).where(*wanted).limit(1))
        if queued.first() is None:
            return None
    with db.transaction() as session:
        running = select(JobRow.project_id).where(
            JobRow.status == "running", JobRow.project_id.is_not(None)
        )
        query = (
            select(JobRow)
            .where(*wanted, JobRow.project_id.not_in(running))
            .order_by(JobRow.id)
            .limit(1)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = session.execute(query).scalar_one_or_none()
        if job is None:
            return None
        job.status = "running"
        job.attempts += 1
        job.started_at = utcnow()
        job.finished_at = None
        job.error = None
        return job.id, job.project_id, job.kind, (job.payload or {}).get("actor", "system")


def _summary(value: Any) -> dict[str, Any]:
    """A compact JSON summary of what a job returned (scalars, and scalar metrics)."""
    fields = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else dict(value or {})
    scalar = str | int | float | bool | type(None)
    summary = {key: item for key, item in fields.items() if isinstance(item, scalar)}
    metrics = fields.get("metrics")
    if isinstance(metrics, dict):
        summary["metrics"] = {
            key: item
            for key, item in metrics.items()
            if isinstance(item, scalar)
            or (isinstance(item, dict) and all(isinstance(v, scalar) for v in item.values()))
        }
    return summary


def _run(
    runners: Mapping[str, JobRunner], kind: str, db: Database, project_id: int | None, actor: str
) -> dict[str, Any]:
    runner = runners.get(kind)
    if runner is None:
        raise ValidationError(f"unknown job kind {kind!r}", field="kind")
    return _summary(runner(db, project_id, actor))


def run_next_job(db: Database, *, runners: Mapping[str, JobRunner]) -> JobInfo | None:
    """Claim the oldest runnable job, run it, record the outcome; None when none is queued.

    A project never has two jobs running. A failed job keeps its error text. (A retrain's
    round emits its webhook events itself, when it commits.)

    Parameters
    ----------
    db : Database
    runners : mapping of str to callable
        What runs each job kind: ``runner(db, project_id, actor)``; what it returns is
        kept, summarised, as the job's result. A kind without a runner fails the job.
    """
    claimed = _claim(db)
    return None if claimed is None else _execute(db, claimed, runners)


def run_queued(
    db: Database, *, project_id: int, kind: str, runners: Mapping[str, JobRunner]
) -> JobInfo | None:
    """Run the project's queued job of ``kind`` now, as `run_next_job` would run it.

    None when there is none, or when a job of the project is running (the queued one
    then waits for the worker).
    """
    claimed = _claim(db, project_id=project_id, kind=kind)
    return None if claimed is None else _execute(db, claimed, runners)


def _execute(
    db: Database, claimed: tuple[int, int | None, str, str], runners: Mapping[str, JobRunner]
) -> JobInfo:
    """Run a claimed job and record its outcome."""
    job_id, project_id, kind, actor = claimed
    try:
        result = _run(runners, kind, db, project_id, actor)
        error = None
    except Exception as exc:  # a job's failure is recorded, never raised into the worker
        result = None
        error = f"{type(exc).__name__}: {exc}"
        log.warning("job %s failed:\n%s", job_id, traceback.format_exc())
    with db.transaction() as session:
        job = session.get(JobRow, job_id)
        job.status = "failed" if error else "done"
        job.error = error
        job.finished_at = utcnow()
        job.payload = {**(job.payload or {}), "result": result}
        if project_id is not None:
            append_event(
                session,
                project_id=project_id,
                actor=actor,
                action="job.failed" if error else "job.completed",
                target=f"job:{job_id}",
                after={"kind": kind, "error": error},
            )
        return _info(job)


def recover_interrupted_jobs(db: Database) -> int:
    """Put jobs left ``running`` by a crash back in the queue; returns how many."""
    with db.transaction() as session:
        rows = session.execute(select(JobRow).where(JobRow.status == "running")).scalars().all()
        for job in rows:
            job.status = "queued"
            job.started_at = None
            if job.project_id is not None:
                append_event(
                    session,
                    project_id=job.project_id,
                    actor="system",
                    action="job.requeued",
                    target=f"job:{job.id}",
                    after={"kind": job.kind, "attempts": job.attempts},
                )
        return len(rows)


class JobWorker:
    """A background thread that runs queued jobs and the service's periodic chores.

    Parameters
    ----------
    db : Database
    runners : mapping of str to callable
        What runs each job kind (see `run_next_job`).
    chores : sequence of callable
        ``chore(db) -> int`` run on every poll after the jobs (webhook deliveries, the
        lease expiry sweep); each returns how much work it did.
    poll_interval : float
        Seconds to sleep when there is nothing to do.
    recover : bool
        Put jobs a crash left running back in the queue when starting (one worker
        per database should do this).

    Examples
    --------
    >>> worker = JobWorker(db, runners={"retrain": retrain}, poll_interval=1.0)  # doctest: +SKIP
    >>> worker.start()  # doctest: +SKIP
    >>> worker.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        db: Database,
        *,
        runners: Mapping[str, JobRunner],
        chores: Sequence[Callable[[Database], int]] = (),
        poll_interval: float = 1.0,
        recover: bool = True,
    ) -> None:
        if not poll_interval > 0:
            raise ValidationError("poll_interval must be positive", field="poll_interval")
        self.db = db
        self.runners = dict(runners)
        self.chores = tuple(chores)
        self.poll_interval = poll_interval
        self.recover = recover
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        if self.recover:
            recover_interrupted_jobs(self.db)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="labelloop-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop and wait for it (a running job finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> int:
        """Run every runnable job, then each chore once; returns the work done."""
        done = 0
        while not self._stop.is_set() and run_next_job(self.db, runners=self.runners) is not None:
            done += 1
        return done + sum(chore(self.db) for chore in self.chores)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # keep serving: a database hiccup must not kill the worker
                log.exception("job worker iteration failed")
                busy = 0
            if not busy:
                self._stop.wait(self.poll_interval)
