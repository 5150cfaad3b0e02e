"""Annotations: submit a label for a leased task, undo it, or record one without a lease.

Submitting
----------
- The user must hold a lease on the task. A lease past its expiry is still honoured
  while nobody took its place: when it has not been closed yet, or when it was closed
  as ``expired`` and the task still has a free slot. When another annotator took the
  slot, the submit is refused with `ConflictError` (nothing is written, so no
  acknowledged label is ever dropped later).
- An ``idempotency_key`` makes retries safe: the same (user, key) and the same body
  (label, time spent) returns the original annotation with ``created=False``; the same
  key with another task or body is a `ConflictError` naming the key. The unique
  constraint settles concurrent retries.
- The annotation records the guideline version in force. When the item has all its
  annotations, `labelloop.engine.core.final_label.settle_item` decides its final label and
  status; a due review creates a review task.
- A label may carry ``unsure`` (the annotator doubts it) and a ``comment`` for reviewers
  and admins; neither skips the item.
- The author may change a label (``change_annotation``) or undo it while no reviewer has
  judged it; afterwards both are refused in words.
- Each new label may queue a retrain (setting ``retrain_every``) and emits the
  ``annotation.created`` webhook event.
"""

from labelloop.engine.annotate.change import change_annotation
from labelloop.engine.annotate.record import record_annotation, withdraw_recorded
from labelloop.engine.annotate.submit import submit_annotation
from labelloop.engine.annotate.undo import undo_annotation

__all__ = [
    "change_annotation",
    "record_annotation",
    "submit_annotation",
    "undo_annotation",
    "withdraw_recorded",
]
