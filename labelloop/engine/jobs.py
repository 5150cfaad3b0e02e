"""Background jobs: retrains run outside request handlers, one at a time per project.

A job is a row in ``jobs``: ``queued`` -> ``running`` -> ``done`` | ``failed``.
`run_next_job` claims the oldest queued job of a project with nothing running, runs
it, and records the outcome; `recover_interrupted_jobs` puts jobs a crash left
``running`` back in the queue, so an interrupted retrain runs again. `JobWorker` is
the thread the server starts: it runs jobs and delivers due webhooks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelloop.engine.projects import effective_settings, resolve_project
from labelloop.engine.queue import aware
from labelloop.engine.webhooks import deliver_due
from labelloop.exceptions import ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, JobRow, ProjectRow, RoundRow, utcnow

__all__ = [
    "JOB_KINDS",
    "JobInfo",
    "JobWorker",
    "enqueue_retrain",
    "list_jobs",
    "maybe_enqueue_retrain",
    "recover_interrupted_jobs",
    "run_next_job",
]

JOB_KINDS = ("retrain",)
_PENDING = ("queued", "running")
log = logging.getLogger(__name__)


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
        created_at=aware(row.created_at),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
    )


def _queued_retrain(session: Session, project_id: int) -> JobRow | None:
    return session.execute(
        select(JobRow)
        .where(JobRow.status == "queued", JobRow.project_id == project_id, JobRow.kind == "retrain")
        .limit(1)
    ).scalar_one_or_none()


def _add_retrain(session: Session, *, project_id: int, actor: str, why: str) -> JobRow:
    job = JobRow(
        project_id=project_id,
        kind="retrain",
        status="queued",
        payload={"actor": actor, "why": why},
    )
    session.add(job)
    session.flush()
    append_event(
        session,
        project_id=project_id,
        actor=actor,
        action="job.queued",
        target=f"job:{job.id}",
        after={"kind": "retrain", "why": why},
    )
    return job


def enqueue_retrain(db: Database, *, project_id: int | str, actor: str) -> JobInfo:
    """Queue a retrain of the project; when one is queued already, that one is returned."""
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        job = _queued_retrain(session, project.id) or _add_retrain(
            session, project_id=project.id, actor=actor, why="requested"
        )
        return _info(job)


def maybe_enqueue_retrain(session: Session, *, project: ProjectRow, actor: str) -> bool:
    """Queue a retrain when ``retrain_every`` new labels came in since the last round.

    Runs in the caller's transaction. Counts human and reviewer labels made after the
    latest round; does nothing when ``retrain_every`` is 0/None or a retrain is pending.
    """
    every = effective_settings(project).get("retrain_every")
    if not every:
        return False
    pending = session.execute(
        select(JobRow.id)
        .where(
            JobRow.status.in_(_PENDING), JobRow.project_id == project.id, JobRow.kind == "retrain"
        )
        .limit(1)
    ).first()
    if pending is not None:
        return False
    since = session.execute(
        select(func.max(RoundRow.created_at)).where(RoundRow.project_id == project.id)
    ).scalar_one()
    query = select(func.count()).where(
        AnnotationRow.project_id == project.id,
        AnnotationRow.status == "active",
        AnnotationRow.source.in_(("human", "review")),
    )
    if since is not None:
        query = query.where(AnnotationRow.created_at > since)
    if session.execute(query).scalar_one() < every:
        return False
    _add_retrain(session, project_id=project.id, actor=actor, why=f"{every} new labels")
    return True


def list_jobs(db: Database, *, project_id: int | None = None, limit: int = 100) -> list[JobInfo]:
    """The newest jobs first (of one project, or all)."""
    with db.read() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if project_id is not None:
            query = query.where(JobRow.project_id == project_id)
        return [_info(row) for row in session.execute(query).scalars()]


def _claim(db: Database) -> tuple[int, int | None, str, str] | None:
    # A read first: an idle worker's poll must not take SQLite's write lock.
    with db.read() as session:
        queued = session.execute(select(JobRow.id).where(JobRow.status == "queued").limit(1))
        if queued.first() is None:
            return None
    with db.transaction() as session:
        running = select(JobRow.project_id).where(
            JobRow.status == "running", JobRow.project_id.is_not(None)
        )
        query = (
            select(JobRow)
            .where(JobRow.status == "queued", JobRow.project_id.not_in(running))
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


def _run(kind: str, db: Database, project_id: int | None, actor: str) -> dict[str, Any]:
    if kind == "retrain":
        # Imported here: training pulls in scikit-learn, which the API process loads lazily.
        from labelloop.engine.rounds import train

        return _summary(train(db, actor=actor, project=project_id))
    raise ValidationError(f"unknown job kind {kind!r}", field="kind")


def run_next_job(db: Database) -> JobInfo | None:
    """Claim the oldest runnable job, run it, record the outcome; None when none is queued.

    A project never has two jobs running. A failed job keeps its error text. (A retrain's
    round emits its webhook events itself, when it commits.)
    """
    claimed = _claim(db)
    if claimed is None:
        return None
    job_id, project_id, kind, actor = claimed
    try:
        result = _run(kind, db, project_id, actor)
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
    """A background thread that runs queued jobs and delivers due webhooks.

    Parameters
    ----------
    db : Database
    poll_interval : float
        Seconds to sleep when there is nothing to do.
    recover : bool
        Put jobs a crash left running back in the queue when starting (one worker
        per database should do this).

    Examples
    --------
    >>> worker = JobWorker(db, poll_interval=1.0)  # doctest: +SKIP
    >>> worker.start()  # doctest: +SKIP
    >>> worker.stop()  # doctest: +SKIP
    """

    def __init__(self, db: Database, *, poll_interval: float = 1.0, recover: bool = True) -> None:
        if not poll_interval > 0:
            raise ValidationError("poll_interval must be positive", field="poll_interval")
        self.db = db
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
        """Run every runnable job and one round of webhook deliveries; returns work done."""
        done = 0
        while not self._stop.is_set() and run_next_job(self.db) is not None:
            done += 1
        return done + deliver_due(self.db)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # keep serving: a database hiccup must not kill the worker
                log.exception("job worker iteration failed")
                busy = 0
            if not busy:
                self._stop.wait(self.poll_interval)
