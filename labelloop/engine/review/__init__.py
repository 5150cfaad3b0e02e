"""Review: a reviewer leases an item in review and accepts, rejects or corrects it.

- ``accept``: the final label is confirmed (status ``accepted``). On a tie the reviewer
  names the label they accept (one of the annotators'); annotations that disagree with
  the accepted label are marked rejected.
- ``reject``: the annotations under review are marked rejected and the item goes back
  to the label queue with the reviewer's note as the task's reason (their authors may
  take it again, to fix it).
- ``correct``: the reviewer's label is kept as a new annotation (source ``review``)
  beside the originals and wins (status ``accepted``).

Each verdict adds one ``reviews`` row per annotation under review; for accept and
correct, ``corrected_label`` holds the label the review settled on, so the item's
latest review row says what stands.

Reviewers are not offered items they annotated themselves. Review leases follow
`labelloop.engine.core.leases`, as label leases do; an expired one is offered to the
next reviewer. The item's final label is written by
`labelloop.engine.core.final_label.settle_item`, given the verdict.
"""

from labelloop.engine.review.tasks import ModelGuess, ReviewTaskInfo, lease_next_review
from labelloop.engine.review.verdicts import VERDICTS, ReviewOutcome, submit_review

__all__ = [
    "VERDICTS",
    "ModelGuess",
    "ReviewOutcome",
    "ReviewTaskInfo",
    "lease_next_review",
    "submit_review",
]
