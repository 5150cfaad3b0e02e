"""SQL statements per lease and per submit: the hot path's cost, held to a bound.

Counted at the driver (`driver_statements`: on SQLite ``BEGIN`` and ``COMMIT``
included), with a default project (evaluation share on, no review, no webhooks) after a
few tasks have gone through. A count, not a time: it does not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _service_setup import add_items, make_project, make_user
from driver_statements import driver_statements

from labelloop.engine import annotate, queue

# lease: BEGIN, project and lease state, candidate task with its item, lease insert,
# task update, the audit event (head read, event insert, head update), COMMIT.
MAX_LEASE_STATEMENTS = 9
# submit: BEGIN, task with project and item, lease, annotation insert, lease and task
# updates, the item's annotations, item update, the label feed's change row (the item's
# final label changed), the audit event, COMMIT.
MAX_SUBMIT_STATEMENTS = 13


def _count(db, call: Callable[[], Any]) -> tuple[Any, list[str]]:
    with driver_statements(db) as statements:
        return call(), statements


def test_lease_and_submit_stay_within_their_statement_budget(database):
    # The default minimum of labelled evaluation items (30) is never reached: every lease
    # is an eval turn, and once the three evaluation tasks are gone each one falls back.
    project = make_project(database, settings={"eval_share": 0.25, "eval_min_labels": 30})
    add_items(database, project, 12, eval_ids=(3, 7, 11))
    users = [make_user(database, f"a{i}") for i in range(2)]
    for _round in range(3):
        for user in users:
            task, leased = _count(
                database, lambda u=user: queue.lease_next_task(database, project_id=project, user=u)
            )
            assert task is not None
            (_info, created), submitted = _count(
                database,
                lambda u=user, t=task: annotate.submit_annotation(
                    database, task_id=t.id, user=u, label="pos", idempotency_key=f"k{t.id}"
                ),
            )
            assert created
            assert len(leased) <= MAX_LEASE_STATEMENTS, leased
            assert len(submitted) <= MAX_SUBMIT_STATEMENTS, submitted


def test_asking_again_for_the_held_task_is_cheap(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 3)
    ann = make_user(database, "ann")
    first = queue.lease_next_task(database, project_id=project, user=ann)
    again, statements = _count(
        database, lambda: queue.lease_next_task(database, project_id=project, user=ann)
    )
    assert again.lease_id == first.lease_id
    # BEGIN, project and lease state, the held lease with its task and item, COMMIT.
    assert len(statements) <= 4, statements
