"""The label queue: lease the next task to an annotator, skip it, expire stale leases.

Rules
-----
- A task is offered while it is ``open`` and has fewer active leases than the
  annotations it still ``needed`` (the project's overlap); one annotator never gets
  the same item twice: not while they hold a lease on it, not after they annotated or
  skipped it. After `labelloop.engine.annotate.undo_annotation` they may take it again.
- Order: highest ``priority`` first, then oldest task; the candidate query walks index
  ``ix_tasks_next`` (project, queue, status, priority, id) and stops at the first task
  that fits, so its cost does not grow with the pool.
- Evaluation-set tasks come first while fewer than ``eval_min_labels`` evaluation items
  are labelled, so the round metrics rest on a usable n early; after that they are
  interleaved deterministically: an annotator's n-th lease (counting from 1) comes from
  the evaluation set when ``n % round(1 / eval_share) == 0``, from the rest otherwise.
  When the preferred kind has nothing open the other is used. The minimum counts
  items, not classes: labels are unknown until they are given.
  An eval turn searches the top ``EVAL_WINDOW`` open tasks only, so it stays cheap at
  1M items once the evaluation set is labelled (eval tasks keep their cold-start
  priority, spread through the queue, so the window holds its share of them).
- A user asking again while holding an unexpired lease in the project gets that same
  task back (a page reload does not hoard tasks).
- Leases follow `labelloop.engine.core.leases`: they last the server's
  ``--lease-seconds`` or the project's ``lease_seconds``; a lease past its expiry with
  no outcome is closed as ``expired`` by the next lease call in its project, or by
  `release_expired_leases`, which the service's background worker runs each poll, and
  its slot goes back to the queue.
- Cost: one statement reads the project with the caller's held lease, whether any
  lease in the project expired, the caller's lease count and the labelled evaluation
  items (counted up to ``eval_min_labels`` only); one more finds the task with its
  item (an eval turn's search of the window takes either kind, an evaluation task
  first). Expiry work runs only when something expired.
- Concurrency: on SQLite the write transaction (BEGIN IMMEDIATE) serialises lease
  calls; on PostgreSQL candidate rows are locked with ``FOR UPDATE SKIP LOCKED``, so
  simultaneous callers each get their own task and nobody waits on another's row.
"""

from labelloop.engine.queue.evaluation import EVAL_WINDOW
from labelloop.engine.queue.leasing import (
    TaskInfo,
    candidate_query,
    lease_next_task,
    release_expired_leases,
    skip_task,
    task_info,
)
from labelloop.engine.queue.lookahead import MAX_HELD, lease_ahead
from labelloop.engine.queue.relabel import lease_undone_task

__all__ = [
    "EVAL_WINDOW",
    "MAX_HELD",
    "TaskInfo",
    "candidate_query",
    "lease_ahead",
    "lease_next_task",
    "lease_undone_task",
    "release_expired_leases",
    "skip_task",
    "task_info",
]
