"""The service's background work, wired: which use case runs each job kind, and the chores.

Like `labelloop.engine.workspace`, this module composes use cases (the one other place
in the engine that may import several); `labelloop.engine.jobs` itself knows nothing of
what a job does. The server's background thread is `job_worker`.

- Job kinds: ``retrain`` runs `labelloop.engine.rounds.train` for the job's project, as
  the job's actor.
- Chores, every poll: due webhook deliveries (`labelloop.engine.webhooks.deliver_due`),
  then the expiry sweep of label and review leases
  (`labelloop.engine.queue.release_expired_leases`).
"""

from __future__ import annotations

from typing import Any

from labelloop.engine import jobs, queue, webhooks
from labelloop.store.db import Database

__all__ = ["CHORES", "JOB_RUNNERS", "job_worker", "run_next_job"]


def _retrain(db: Database, project_id: int | None, actor: str) -> Any:
    # Imported here: training pulls in scikit-learn, which the API process loads lazily.
    from labelloop.engine.rounds import train

    return train(db, actor=actor, project=project_id)


JOB_RUNNERS: dict[str, jobs.JobRunner] = {"retrain": _retrain}
CHORES = (webhooks.deliver_due, queue.release_expired_leases)


def run_next_job(db: Database) -> jobs.JobInfo | None:
    """Run the oldest runnable job with the runners above (see `jobs.run_next_job`)."""
    return jobs.run_next_job(db, runners=JOB_RUNNERS)


def job_worker(db: Database, *, poll_interval: float = 1.0, recover: bool = True) -> jobs.JobWorker:
    """The background thread that runs jobs and the chores (not started)."""
    return jobs.JobWorker(
        db, runners=JOB_RUNNERS, chores=CHORES, poll_interval=poll_interval, recover=recover
    )
