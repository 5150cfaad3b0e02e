"""Submitting, undoing and recording annotations; review policies; retrain trigger."""

from __future__ import annotations

import threading

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import func, select

from labelloop.engine import annotate, queue
from labelloop.engine.projects import set_guidelines
from labelloop.engine.webhooks import register_webhook
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labelloop.store.tables import (
    AnnotationRow,
    AuditEventRow,
    ItemRow,
    JobRow,
    ModelVersionRow,
    PredictionRow,
    ReviewTaskRow,
    TaskLeaseRow,
    TaskRow,
    WebhookDeliveryRow,
)


def _lease_and_submit(db, project, user, label, **kwargs):
    task = queue.lease_next_task(db, project_id=project, user=user)
    return annotate.submit_annotation(db, task_id=task.id, user=user, label=label, **kwargs)


def test_submit_records_the_label_and_closes_the_lease(database):
    project = make_project(database, settings={"eval_share": 0})
    set_guidelines(database, actor="cli:test", project=project, text="# v2")
    [task_id] = add_items(database, project, 1)
    register_webhook(
        database,
        actor="cli:test",
        project_id=project,
        url="http://127.0.0.1:9/hook",
        events=["annotation.created"],
    )
    ann = make_user(database, "ann")
    info, created = _lease_and_submit(database, project, ann, "pos", time_spent_ms=1200)
    assert created
    assert (info.label, info.item_status, info.final_label) == ("pos", "annotated", "pos")
    assert info.guideline_version >= 1 and info.time_spent_ms == 1200
    with database.read() as session:
        task = session.get(TaskRow, task_id)
        assert (task.status, task.needed, task.active_leases) == ("done", 0, 0)
        lease = session.execute(select(TaskLeaseRow)).scalar_one()
        assert lease.outcome == "annotated"
        item = session.get(ItemRow, info.item_id)
        assert (item.status, item.final_label, item.label_source) == ("annotated", "pos", "human")
        delivery = session.execute(select(WebhookDeliveryRow)).scalar_one()
        assert delivery.event == "annotation.created" and '"pos"' in delivery.body
        actions = session.execute(select(AuditEventRow.action)).scalars().all()
    assert "annotation.submitted" in actions


def test_bad_label_and_missing_lease_change_nothing(database):
    project = make_project(database)
    [task_id] = add_items(database, project, 1)
    ann = make_user(database, "ann")
    with pytest.raises(ConflictError):
        annotate.submit_annotation(database, task_id=task_id, user=ann, label="pos")
    queue.lease_next_task(database, project_id=project, user=ann)
    with pytest.raises(ValidationError) as err:
        annotate.submit_annotation(database, task_id=task_id, user=ann, label="meh")
    assert err.value.field == "label"
    with pytest.raises(ValidationError):
        annotate.submit_annotation(database, task_id=task_id, user=ann, labels=["pos"])
    with pytest.raises(NotFoundError):
        annotate.submit_annotation(database, task_id=999, user=ann, label="pos")
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(AnnotationRow)).scalar() == 0


def test_idempotent_submit_returns_the_original(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 2)
    ann = make_user(database, "ann")
    first, created = _lease_and_submit(database, project, ann, "pos", idempotency_key="k-1")
    again, created_again = annotate.submit_annotation(
        database, task_id=first.task_id, user=ann, label="pos", idempotency_key="k-1"
    )
    assert created and not created_again and again.id == first.id
    other = queue.lease_next_task(database, project_id=project, user=ann)
    with pytest.raises(ConflictError):
        annotate.submit_annotation(
            database, task_id=other.id, user=ann, label="neg", idempotency_key="k-1"
        )


def test_reusing_a_key_with_another_body_is_a_conflict_naming_it(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 2)
    ann = make_user(database, "ann")
    first, _ = _lease_and_submit(
        database, project, ann, "pos", idempotency_key="k-1", time_spent_ms=900
    )
    for label, time_spent_ms in (("neg", 900), ("pos", 1200), ("maybe", 900)):
        with pytest.raises(ConflictError, match="idempotency key 'k-1'"):
            annotate.submit_annotation(
                database,
                task_id=first.task_id,
                user=ann,
                label=label,
                time_spent_ms=time_spent_ms,
                idempotency_key="k-1",
            )
    again, created = annotate.submit_annotation(
        database,
        task_id=first.task_id,
        user=ann,
        label="pos",
        time_spent_ms=900,
        idempotency_key="k-1",
    )
    assert not created and again.id == first.id and again.label == "pos"
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(AnnotationRow)).scalar() == 1


def test_concurrent_retries_create_one_annotation(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 1)
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    results = []
    barrier = threading.Barrier(4)

    def submit():
        barrier.wait()
        results.append(
            annotate.submit_annotation(
                database, task_id=task.id, user=ann, label="neg", idempotency_key="same"
            )
        )

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert len({info.id for info, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]


def test_undo_reopens_the_item_for_its_author(database):
    project = make_project(database, settings={"eval_share": 0})
    [task_id] = add_items(database, project, 1)
    ann, bob = make_user(database, "ann"), make_user(database, "bob")
    info, _ = _lease_and_submit(database, project, ann, "pos")
    with pytest.raises(PermissionDeniedError):
        annotate.undo_annotation(database, annotation_id=info.id, user=bob)
    undone = annotate.undo_annotation(database, annotation_id=info.id, user=ann)
    assert (undone.status, undone.item_status, undone.final_label) == ("undone", "open", None)
    with pytest.raises(ConflictError):
        annotate.undo_annotation(database, annotation_id=info.id, user=ann)
    again = queue.lease_next_task(database, project_id=project, user=ann)
    assert again.id == task_id
    info2, _ = annotate.submit_annotation(database, task_id=task_id, user=ann, label="neg")
    assert info2.final_label == "neg"


def test_review_policy_all_sends_every_label_to_review(database):
    project = make_project(database, settings={"review_policy": "all", "eval_share": 0})
    add_items(database, project, 1)
    ann = make_user(database, "ann")
    info, _ = _lease_and_submit(database, project, ann, "pos")
    assert (info.item_status, info.final_label) == ("in_review", "pos")
    with database.read() as session:
        review = session.execute(select(ReviewTaskRow)).scalar_one()
    assert (review.reason, review.status) == ("all", "open")


def test_overlap_tie_goes_to_review_and_majority_wins(database):
    project = make_project(database, settings={"overlap": 3, "eval_share": 0})
    add_items(database, project, 2, overlap=3)
    users = [make_user(database, n) for n in ("a", "b", "c")]
    labels = {"a": ["pos", "pos"], "b": ["neg", "pos"], "c": ["pos", "neg"]}
    last = {}
    for user in users:
        for label in labels[user.name]:
            last[user.name], _ = _lease_and_submit(database, project, user, label)
    assert (last["c"].item_status, last["c"].final_label) == ("annotated", "pos")
    two = make_project(database, name="pairs", settings={"overlap": 2, "eval_share": 0})
    add_items(database, two, 1, overlap=2, prefix="p")
    _lease_and_submit(database, two, users[0], "pos")
    tie, _ = _lease_and_submit(database, two, users[1], "neg")
    assert (tie.item_status, tie.final_label) == ("in_review", None)


def test_model_disagrees_policy_uses_the_latest_prediction(sqlite_db):
    project = make_project(
        sqlite_db, settings={"review_policy": "model_disagrees", "eval_share": 0}
    )
    add_items(sqlite_db, project, 2)
    with sqlite_db.transaction() as session:
        version = ModelVersionRow(project_id=project, version=1, kind="client", name="m1")
        session.add(version)
        session.flush()
        for item_id in (1, 2):
            session.add(
                PredictionRow(
                    project_id=project,
                    item_id=item_id,
                    model_version_id=version.id,
                    probabilities={"pos": 0.9, "neg": 0.1},
                    score=0.2,
                )
            )
    ann = make_user(sqlite_db, "ann")
    agree, _ = _lease_and_submit(sqlite_db, project, ann, "pos")
    disagree, _ = _lease_and_submit(sqlite_db, project, ann, "neg")
    assert agree.item_status == "annotated"
    assert disagree.item_status == "in_review"


def test_retrain_is_queued_every_n_labels_once(database):
    project = make_project(database, settings={"retrain_every": 2, "eval_share": 0})
    add_items(database, project, 3)
    ann = make_user(database, "ann")
    _lease_and_submit(database, project, ann, "pos")
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(JobRow)).scalar() == 0
    _lease_and_submit(database, project, ann, "neg")
    _lease_and_submit(database, project, ann, "neg")
    with database.read() as session:
        jobs = session.execute(select(JobRow)).scalars().all()
    assert [(j.kind, j.status) for j in jobs] == [("retrain", "queued")]


def test_record_annotation_without_a_lease(database):
    project = make_project(database)
    add_items(database, project, 1)
    info = annotate.record_annotation(
        database, actor="cli:alice", project="reviews", external_id="it0", label="pos"
    )
    assert (info.item_status, info.final_label, info.user_id) == ("annotated", "pos", None)
    fixed = annotate.record_annotation(
        database, actor="cli:alice", project=project, external_id="it0", label="neg"
    )
    assert fixed.final_label == "neg"
    with database.read() as session:
        statuses = (
            session.execute(select(AnnotationRow.status).order_by(AnnotationRow.id)).scalars().all()
        )
    assert statuses == ["undone", "active"]
    with pytest.raises(NotFoundError):
        annotate.record_annotation(
            database, actor="cli:alice", project=project, external_id="nope", label="pos"
        )


def test_withdraw_recorded_takes_back_an_actors_labels(database):
    project = make_project(database)
    add_items(database, project, 2)
    for external_id in ("it0", "it1"):
        annotate.record_annotation(
            database, actor="label-studio:annotation-7", project=project,
            external_id=external_id, label="pos",
        )  # fmt: skip
    annotate.record_annotation(
        database, actor="cli:bob", project=project, external_id="it1", label="neg"
    )
    withdrawn = annotate.withdraw_recorded(
        database, actor="label-studio:annotation-7", project=project
    )
    assert withdrawn == 2
    with database.read() as session:
        items = {
            row.external_id: (row.status, row.final_label)
            for row in session.execute(select(ItemRow)).scalars()
        }
        tasks = session.execute(select(TaskRow.status).order_by(TaskRow.id)).scalars().all()
    # it0 has no label left; it1 keeps bob's.
    assert items["it0"][1] is None and items["it1"][1] == "neg"
    assert tasks[0] == "open"
    assert (
        annotate.withdraw_recorded(database, actor="label-studio:annotation-7", project=project)
        == 0
    )
    with pytest.raises(ValidationError):
        annotate.withdraw_recorded(database, actor="", project=project)
