"""Review flows: lease, accept, reject back to the queue, correct."""

from __future__ import annotations

import datetime as dt

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import select, update

from labelloop.engine import annotate, queue, review
from labelloop.engine.users import get_user
from labelloop.exceptions import ConflictError, PermissionDeniedError, ValidationError
from labelloop.store.tables import (
    AnnotationRow,
    AuditEventRow,
    ItemRow,
    ReviewRow,
    ReviewTaskRow,
    TaskRow,
)


def _labelled(db, *, overlap=1, labels=("pos",), policy="all"):
    project = make_project(
        db, settings={"review_policy": policy, "overlap": overlap, "eval_share": 0}
    )
    [task_id] = add_items(db, project, 1, overlap=overlap)
    for i, label in enumerate(labels):
        user = make_user(db, f"ann{i}")
        task = queue.lease_next_task(db, project_id=project, user=user)
        annotate.submit_annotation(db, task_id=task.id, user=user, label=label)
    return project, task_id, make_user(db, "rev", role="reviewer")


def test_lease_shows_annotations_and_model_guess(database):
    project, _, rev = _labelled(database)
    ann = make_user(database, "other")
    with pytest.raises(PermissionDeniedError):
        review.lease_next_review(database, project_id=project, user=ann)
    leased = review.lease_next_review(database, project_id=project, user=rev)
    assert leased.reason == "all" and leased.provisional_label == "pos"
    assert [(a.actor, a.label) for a in leased.annotations] == [("ann0", "pos")]
    assert leased.model_guess is None
    # The same reviewer gets it back; another reviewer gets nothing while it is leased.
    assert review.lease_next_review(database, project_id=project, user=rev).id == leased.id
    rev2 = make_user(database, "rev2", role="reviewer")
    assert review.lease_next_review(database, project_id=project, user=rev2) is None


def test_accept_confirms_the_label(database):
    project, _, rev = _labelled(database)
    leased = review.lease_next_review(database, project_id=project, user=rev)
    outcome = review.submit_review(database, review_task_id=leased.id, user=rev, verdict="accept")
    assert (outcome.item_status, outcome.final_label) == ("accepted", "pos")
    with pytest.raises(ConflictError):
        review.submit_review(database, review_task_id=leased.id, user=rev, verdict="accept")
    # A reviewed annotation cannot be undone any more.
    with database.read() as session:
        annotation = session.execute(select(AnnotationRow)).scalar_one()
    with pytest.raises(ConflictError):
        annotate.undo_annotation(
            database, annotation_id=annotation.id, user=get_user(database, "ann0")
        )


def test_reject_sends_the_item_back_with_the_note(database):
    project, task_id, rev = _labelled(database)
    leased = review.lease_next_review(database, project_id=project, user=rev)
    outcome = review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="reject", note="read the title"
    )
    assert (outcome.item_status, outcome.final_label) == ("open", None)
    with database.read() as session:
        task = session.get(TaskRow, task_id)
        assert (task.status, task.needed, task.reason) == ("open", 1, "read the title")
        assert session.execute(select(AnnotationRow.status)).scalar_one() == "rejected"
    author = get_user(database, "ann0")
    again = queue.lease_next_task(database, project_id=project, user=author)
    assert again.id == task_id and again.reason == "read the title"


def test_correct_keeps_both_and_the_correction_wins(database):
    project, _, rev = _labelled(database)
    leased = review.lease_next_review(database, project_id=project, user=rev)
    with pytest.raises(ValidationError):
        review.submit_review(
            database, review_task_id=leased.id, user=rev, verdict="correct", label="nope"
        )
    outcome = review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="correct", label="neg"
    )
    assert (outcome.item_status, outcome.final_label) == ("accepted", "neg")
    with database.read() as session:
        rows = session.execute(select(AnnotationRow).order_by(AnnotationRow.id)).scalars().all()
        assert [(r.source, r.label, r.status) for r in rows] == [
            ("human", "pos", "active"),
            ("review", "neg", "active"),
        ]
        item = session.execute(select(ItemRow)).scalar_one()
        assert (item.label_source, item.final_label) == ("review", "neg")
        verdicts = session.execute(select(ReviewRow.verdict)).scalars().all()
    assert verdicts == ["correct"]


def test_tie_needs_the_reviewer_to_pick(database):
    project, _, rev = _labelled(database, overlap=2, labels=("pos", "neg"), policy="none")
    leased = review.lease_next_review(database, project_id=project, user=rev)
    assert leased.reason == "tie" and leased.provisional_label is None
    with pytest.raises(ValidationError):
        review.submit_review(database, review_task_id=leased.id, user=rev, verdict="accept")
    outcome = review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="accept", label="neg"
    )
    assert (outcome.item_status, outcome.final_label) == ("accepted", "neg")
    with database.read() as session:
        statuses = session.execute(
            select(AnnotationRow.label, AnnotationRow.status).order_by(AnnotationRow.id)
        ).all()
    assert [tuple(s) for s in statuses] == [("pos", "rejected"), ("neg", "active")]


def test_review_lease_lasts_the_length_the_caller_gives(database):
    # The server passes its --lease-seconds; the project's setting (600 s) is the default.
    project, _, rev = _labelled(database)
    before = dt.datetime.now(dt.UTC)
    leased = review.lease_next_review(database, project_id=project, user=rev, lease_seconds=30)
    assert before + dt.timedelta(seconds=29) <= leased.lease_expires_at
    assert leased.lease_expires_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    rev2 = make_user(database, "rev2", role="reviewer")
    with pytest.raises(ValidationError) as err:
        review.lease_next_review(database, project_id=project, user=rev2, lease_seconds=0)
    assert err.value.field == "lease_seconds"


def test_an_expired_review_lease_is_released_by_the_sweep(database):
    project, _, rev = _labelled(database)
    leased = review.lease_next_review(database, project_id=project, user=rev)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    with database.transaction() as session:
        session.execute(
            update(ReviewTaskRow).where(ReviewTaskRow.id == leased.id).values(lease_expires_at=past)
        )
    rev2 = make_user(database, "rev2", role="reviewer")
    assert queue.release_expired_leases(database) == 1
    with database.read() as session:
        task = session.get(ReviewTaskRow, leased.id)
        assert (task.assignee_id, task.lease_expires_at, task.status) == (None, None, "open")
        [event] = (
            session.execute(select(AuditEventRow).where(AuditEventRow.action == "leases.expired"))
            .scalars()
            .all()
        )
        assert event.after == {"review_tasks": [leased.id]}
    assert review.lease_next_review(database, project_id=project, user=rev2).id == leased.id
