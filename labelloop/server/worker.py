"""The service's background work: the engine's job worker, and pull mode for client models.

This module wires the engine's job queue to the use cases that do the work (the engine's
use cases never import each other; the server composes them):

- job kinds: ``retrain`` runs `labelloop.engine.rounds.train` for the job's project, as
  the job's actor (on the Dask cluster of the ``dask`` setting, when there is one);
  ``score_new`` scores the items imported after a round with its model
  (`labelloop.engine.rounds.score_new_items`);
- chores, every poll: due webhook deliveries (`labelloop.engine.webhooks.deliver_due`),
  then the expiry sweep of label and review leases
  (`labelloop.engine.queue.release_expired_leases`).
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

from labelloop.engine import jobs, queue, webhooks
from labelloop.server.settings import ServerSettings
from labelloop.store.db import Database

__all__ = ["CHORES", "JOB_RUNNERS", "BackgroundWorker", "job_worker", "run_next_job"]

log = logging.getLogger("labelloop.server")


def _retrain(db: Database, project_id: int | None, actor: str, *, dask: str | None = None) -> Any:
    # Imported here: training pulls in scikit-learn, which the API process loads lazily.
    from labelloop.engine.rounds import train

    return train(db, actor=actor, project=project_id, dask=dask)


def _score_new(db: Database, project_id: int | None, actor: str) -> Any:
    from labelloop.engine.rounds import run_score_new

    return run_score_new(db, project_id, actor)


JOB_RUNNERS: dict[str, jobs.JobRunner] = {"retrain": _retrain, "score_new": _score_new}
CHORES = (webhooks.deliver_due, queue.release_expired_leases)


def run_next_job(db: Database) -> jobs.JobInfo | None:
    """Run the oldest runnable job with the runners above (see `jobs.run_next_job`)."""
    return jobs.run_next_job(db, runners=JOB_RUNNERS)


def job_worker(
    db: Database, *, poll_interval: float = 1.0, recover: bool = True, dask: str | None = None
) -> jobs.JobWorker:
    """The background thread that runs jobs and the chores (not started); ``dask`` is the
    scheduler address its retrains score the pool on."""
    runners = dict(JOB_RUNNERS)
    if dask is not None:
        runners["retrain"] = partial(_retrain, dask=dask)
    return jobs.JobWorker(
        db, runners=runners, chores=CHORES, poll_interval=poll_interval, recover=recover
    )


class BackgroundWorker:
    """Runs retrain jobs, webhook deliveries and the lease expiry sweep, and polls the
    client model in pull mode.

    Parameters
    ----------
    db : Database
    settings : ServerSettings
        ``worker_poll_seconds``; ``dask`` for retrains; ``model_url`` and
        ``model_batch_size`` for pull mode.
    """

    def __init__(self, db: Database, settings: ServerSettings) -> None:
        self.db = db
        self.settings = settings
        self.jobs = job_worker(db, poll_interval=settings.worker_poll_seconds, dask=settings.dask)
        self._stop = threading.Event()
        self._pull: threading.Thread | None = None

    def start(self) -> None:
        """Start the job thread, and the pull thread when a model URL is set."""
        self.jobs.start()
        if self.settings.model_url:
            self._stop.clear()
            self._pull = threading.Thread(
                target=self._pull_loop, name="labelloop-pull", daemon=True
            )
            self._pull.start()

    def stop(self) -> None:
        """Stop both threads (a running job finishes first)."""
        self._stop.set()
        self.jobs.stop()
        if self._pull is not None:
            self._pull.join(30)
            self._pull = None

    def _pull_loop(self) -> None:
        from labelloop.server.model_pull import ModelPuller

        puller = ModelPuller(
            self.db,
            url=self.settings.model_url,
            batch_size=self.settings.model_batch_size,
            protocol=self.settings.model_protocol,
        )
        try:
            while not self._stop.is_set():
                try:
                    busy = puller.pull_once()
                except Exception as exc:  # an unreachable model must not stop the service
                    log.warning("pulling predictions from %s failed: %s", puller.url, exc)
                    busy = 0
                if not busy:
                    self._stop.wait(self.settings.worker_poll_seconds)
        finally:
            puller.close()
