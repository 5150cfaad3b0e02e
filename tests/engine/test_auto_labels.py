"""Auto-labels in rounds: certified on the evaluation set, never over a person's label."""

from __future__ import annotations

import random

import pytest
from _service_setup import make_user
from sqlalchemy import select

from labelloop.engine import queue
from labelloop.engine.annotate import record_annotation, submit_annotation
from labelloop.engine.audit import verify_chain
from labelloop.engine.export import iter_export_records
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.engine.rounds import project_status, train
from labelloop.engine.webhooks import register_webhook
from labelloop.store.tables import (
    AnnotationRow,
    AuditEventRow,
    AutoLabelRow,
    ItemRow,
    ProjectRow,
    TaskRow,
    WebhookDeliveryRow,
)

ACTOR = "cli:tester"
POSITIVE = ["good", "great", "excellent", "lovely", "superb", "fine"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "dull", "horrid"]
AUTO = {
    "auto_label": True,
    "auto_label_precision": 0.8,
    "auto_label_risk": 0.1,
    "auto_label_spot_check": 0.2,
}


def records(n: int, *, n_labelled: int, seed: int = 0) -> list[dict]:
    """Reviews whose label follows their words, the first ``n_labelled`` labelled."""
    rng = random.Random(seed)
    found = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(POSITIVE if label == "pos" else NEGATIVE, k=4) + [f"w{i}"]
        record = {"id": f"r{i}", "text": " ".join(words)}
        if i < n_labelled:
            record["label"] = label
        found.append(record)
    return found


def truth(external_id: str) -> str:
    return "pos" if int(external_id[1:]) % 2 == 0 else "neg"


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def make_project(db, *, n: int = 500, n_labelled: int = 300, **settings) -> str:
    create_project(
        db,
        actor=ACTOR,
        name="reviews",
        task_type="classification",
        labels=["pos", "neg"],
        strategy="margin",
        settings={"batch_size": 10, "eval_share": 0.4, "eval_min": 0, **settings},
    )
    import_items(db, actor=ACTOR, project="reviews", records=records(n, n_labelled=n_labelled))
    return "reviews"


def auto_labelled(db) -> list[tuple[AutoLabelRow, ItemRow, AnnotationRow]]:
    with db.read() as session:
        rows = session.execute(
            select(AutoLabelRow, ItemRow, AnnotationRow)
            .join(ItemRow, ItemRow.id == AutoLabelRow.item_id)
            .join(AnnotationRow, AnnotationRow.id == AutoLabelRow.annotation_id)
            .order_by(AutoLabelRow.id)
        ).all()
        return [tuple(row) for row in rows]


def test_a_round_auto_labels_what_clears_the_certified_threshold(db):
    project = make_project(db, **AUTO)
    info = train(db, actor=ACTOR, project=project)
    metrics = info.metrics["auto_label"]
    assert metrics["threshold"] is not None and metrics["bound"] >= 0.8
    assert metrics["n_labelled"] > 0 and metrics["labels_needed"] == 0
    rows = auto_labelled(db)
    assert len(rows) == metrics["n_labelled"]
    for auto, item, annotation in rows:
        assert not item.is_eval
        assert annotation.source == "model" and annotation.actor == "model:v1"
        assert item.label_source == "model" and item.status == "annotated"
        assert item.final_label == annotation.label
        assert auto.confidence >= auto.threshold == metrics["threshold"]
        assert auto.bound == pytest.approx(metrics["bound"])
        assert auto.round_number == info.number
    # The calibration read people's labels of the evaluation set only.
    with db.read() as session:
        n_eval_labelled = len(
            session.execute(
                select(ItemRow.id).where(
                    ItemRow.is_eval.is_(True), ItemRow.status.in_(("annotated", "accepted"))
                )
            ).all()
        )
        tasks = {
            t.item_id: t for t in session.execute(select(TaskRow)).scalars() if t.queue == "label"
        }
        created = (
            session.execute(
                select(AuditEventRow).where(AuditEventRow.action == "auto_label.created")
            )
            .scalars()
            .all()
        )
    assert metrics["n_calibration"] == n_eval_labelled
    spot = [item for auto, item, _ in rows if auto.spot_check]
    assert spot and len(spot) < len(rows)
    for auto, item, _ in rows:
        task = tasks[item.id]
        if auto.spot_check:
            assert task.status == "open" and task.priority == 1.0
            assert "auto" not in (task.reason or "") and "model" not in (task.reason or "")
        else:
            assert task.status == "done"
    audited = [external_id for event in created for external_id in event.after["items"]]
    assert sorted(audited) == sorted(item.external_id for _, item, _ in rows)
    assert verify_chain(db, project).ok
    status = project_status(db, project)
    assert status.n_auto_labelled == len(rows)
    assert status.auto_label.threshold == metrics["threshold"]
    assert "auto-labelling items" in status.auto_label.note
    exported = {r["id"]: r for r in iter_export_records(db, project)}
    for _, item, _ in rows:
        assert exported[item.external_id]["label_source"] == "model"
    # The next round trains on people's labels only, unless asked to.
    second = train(db, actor=ACTOR, project=project)
    assert second.n_labels == info.n_labels
    update_settings(db, actor=ACTOR, project=project, changes={"auto_label_train": True})
    third = train(db, actor=ACTOR, project=project)
    assert third.n_labels >= info.n_labels + len(rows) - len(spot)


def test_nothing_is_auto_labelled_without_a_certificate_and_the_status_says_why(db):
    project = make_project(db, n=300, n_labelled=20, **AUTO)
    info = train(db, actor=ACTOR, project=project)
    metrics = info.metrics["auto_label"]
    assert metrics["threshold"] is None and metrics["n_labelled"] == 0
    assert metrics["labels_needed"] > 0
    assert auto_labelled(db) == []
    note = project_status(db, project).auto_label.note
    assert f"about {metrics['labels_needed']} more evaluation labels" in note


def test_auto_labelling_is_off_by_default(db):
    project = make_project(db)
    info = train(db, actor=ACTOR, project=project)
    assert "auto_label" not in info.metrics
    assert auto_labelled(db) == []
    assert project_status(db, project).auto_label.note == "auto-labelling is off"


def test_an_item_a_person_began_is_never_auto_labelled(db):
    project = make_project(db, overlap=2, **AUTO)
    with db.read() as session:
        pool = (
            session.execute(
                select(ItemRow.external_id).where(ItemRow.status == "open", ~ItemRow.is_eval)
            )
            .scalars()
            .all()
        )
    started = pool[:40]
    for external_id in started:  # one of the two annotations the overlap wants
        record_annotation(db, actor="ann", project=project, external_id=external_id, label="neg")
    train(db, actor=ACTOR, project=project)
    labelled = {item.external_id for _, item, _ in auto_labelled(db)}
    assert labelled and not labelled & set(started)


def test_people_win_over_auto_labels_on_spot_checks_and_anywhere_else(db):
    project = make_project(db, **AUTO)
    train(db, actor=ACTOR, project=project)
    rows = auto_labelled(db)
    spot_item = next(item for auto, item, _ in rows if auto.spot_check)
    other = next(item for auto, item, _ in rows if not auto.spot_check)
    user = make_user(db, "checker")
    task = queue.lease_next_task(db, project_id=project, user=user)
    while task.item.external_id != spot_item.external_id:
        submit_annotation(db, task_id=task.id, user=user, label=truth(task.item.external_id))
        task = queue.lease_next_task(db, project_id=project, user=user)
    flipped = "neg" if spot_item.final_label == "pos" else "pos"
    submit_annotation(db, task_id=task.id, user=user, label=flipped)
    record_annotation(db, actor="ann", project=project, external_id=other.external_id,
                      label="neg" if other.final_label == "pos" else "pos")  # fmt: skip
    # A model label recorded afterwards does not replace either.
    for item in (spot_item, other):
        record_annotation(db, actor="model:x", project=project, external_id=item.external_id,
                          label=item.final_label)  # fmt: skip
    with db.read() as session:
        now = {i.id: i for i in session.execute(select(ItemRow)).scalars()}
    assert now[spot_item.id].final_label == flipped
    assert now[spot_item.id].label_source == "human"
    assert now[other.id].final_label != other.final_label
    assert now[other.id].label_source == "human"
    checks = project_status(db, project).auto_label.spot_checks
    assert (checks.checked, checks.correct) == (1, 0)


def test_failed_spot_checks_pause_auto_labelling_with_a_webhook(db):
    project = make_project(db, **{**AUTO, "auto_label_spot_check": 1.0})
    with db.read() as session:
        project_id = session.execute(select(ProjectRow.id)).scalar_one()
    register_webhook(db, actor=ACTOR, project_id=project_id, url="http://127.0.0.1:9/hook",
                     events=["auto_label.paused"])  # fmt: skip
    first = train(db, actor=ACTOR, project=project)
    assert first.metrics["auto_label"]["n_labelled"] > 0
    user = make_user(db, "checker")
    n_checked = 0
    while (task := queue.lease_next_task(db, project_id=project, user=user)) is not None:
        with db.read() as session:
            auto = session.execute(
                select(AutoLabelRow).where(AutoLabelRow.item_id == task.item.id)
            ).scalar_one_or_none()
        # People disagree with every auto-label they check.
        label = truth(task.item.external_id)
        if auto is not None:
            label = "neg" if _auto_label(db, auto) == "pos" else "pos"
            n_checked += 1
        submit_annotation(db, task_id=task.id, user=user, label=label)
        if project_status(db, project).auto_label.paused:
            break
    status = project_status(db, project).auto_label
    assert status.paused and n_checked >= 1
    assert status.spot_checks.high < 0.8
    assert "spot checks confirmed 0 of" in status.pause_reason
    assert "paused" in status.note
    with db.read() as session:
        deliveries = session.execute(select(WebhookDeliveryRow)).scalars().all()
        paused_events = (
            session.execute(
                select(AuditEventRow).where(AuditEventRow.action == "auto_label.paused")
            )
            .scalars()
            .all()
        )
    assert [d.event for d in deliveries] == ["auto_label.paused"]
    assert len(paused_events) == 1
    before = len(auto_labelled(db))
    second = train(db, actor=ACTOR, project=project)
    assert second.metrics["auto_label"]["paused"] == status.pause_reason
    assert len(auto_labelled(db)) == before


def _auto_label(db, auto: AutoLabelRow) -> str:
    with db.read() as session:
        return session.get(AnnotationRow, auto.annotation_id).label


def test_per_class_thresholds_label_each_class_at_its_own(db):
    project = make_project(db, **AUTO, auto_label_per_class=True)
    info = train(db, actor=ACTOR, project=project)
    metrics = info.metrics["auto_label"]
    assert set(metrics["thresholds"]) == {"pos", "neg"}
    rows = auto_labelled(db)
    assert rows
    for auto, _item, annotation in rows:
        assert auto.threshold == metrics["thresholds"][annotation.label]
        assert auto.bound == pytest.approx(metrics["bounds"][annotation.label])
        assert auto.confidence >= auto.threshold and auto.bound >= 0.8
    assert project_status(db, project).auto_label.thresholds == metrics["thresholds"]
