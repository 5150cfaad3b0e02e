"""Which kind of task a lease looks for: evaluation-set tasks first, then at their share.

Rules
-----
- While fewer than ``eval_min_labels`` evaluation items are labelled, every lease is an
  eval turn; after that an annotator's n-th lease (counting from 1) is one when
  ``n % round(1 / eval_share) == 0`` (`eval_turn`).
- An eval turn searches the top `EVAL_WINDOW` open tasks for either kind, an
  evaluation task first; any other turn walks the whole queue for a non-evaluation
  task. Either falls back to the other kind, so nobody waits while a task is open
  (`candidate_order`).
- The minimum counts items, not items per class: a label is unknown until it is given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import LABELLED_STATUSES
from labelloop.engine.core.settings import DEFAULT_SETTINGS, project_setting
from labelloop.store.tables import ItemRow, ProjectRow

__all__ = [
    "EVAL_WINDOW",
    "candidate_order",
    "eval_turn",
    "labelled_eval_count",
    "labelled_eval_query",
]

# An eval turn looks for an evaluation task among this many top open tasks.
EVAL_WINDOW = 500


def eval_turn(project: ProjectRow, taken: int, labelled_eval: int) -> bool:
    """Whether a user's next lease, after ``taken`` leases in the project, is an eval turn.

    Every lease is one while fewer than ``eval_min_labels`` evaluation items are
    labelled (``labelled_eval``, see `labelled_eval_count`); after that, one in
    ``round(1 / eval_share)``.
    """
    if labelled_eval < project_setting(project, "eval_min_labels"):
        return True
    share = project_setting(project, "eval_share") or 0
    if share <= 0:
        return False
    return (taken + 1) % max(1, round(1 / share)) == 0


def candidate_order(prefer_eval: bool) -> tuple[tuple[bool | None, int | None], ...]:
    """The `candidate_query` searches a lease makes in turn, as ``(is_eval, window)``:
    an eval turn takes the window's best task, an evaluation one first; a turn for the
    rest walks the whole queue; either falls back to the other kind."""
    if prefer_eval:
        return ((None, EVAL_WINDOW), (False, None))
    return ((False, None), (True, None))


def labelled_eval_query(project_id: Any) -> Select:
    """The count of the project's labelled evaluation items, up to its
    ``eval_min_labels``, for values or bound parameters.

    The count stops at the minimum (read in the same statement), so once it is reached
    it costs about eval_min_labels / (the evaluation share of the labelled items)
    index rows, however many items are labelled.
    """
    wanted = (
        select(
            func.coalesce(
                ProjectRow.settings["eval_min_labels"].as_integer(),
                DEFAULT_SETTINGS["eval_min_labels"],
            )
        )
        .where(ProjectRow.id == project_id)
        .scalar_subquery()
    )
    found = (
        select(ItemRow.id)
        .where(
            ItemRow.project_id == project_id,
            # IN over literals, not an expanding list: the lease runs this prepared.
            ItemRow.status.in_([literal(s) for s in LABELLED_STATUSES]),
            ItemRow.is_eval.is_(True),
        )
        .limit(wanted)
        .subquery("labelled_eval")
    )
    return select(func.count()).select_from(found)


def labelled_eval_count(session: Session, project_id: int) -> int:
    """How many evaluation items of the project are labelled, counted up to its
    ``eval_min_labels`` (all `eval_turn` needs to know)."""
    return session.execute(labelled_eval_query(project_id)).scalar_one()
