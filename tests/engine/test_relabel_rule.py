"""ActiveLab in the queue: a weak label gets another annotation before a new item does."""

from __future__ import annotations

from _service_setup import add_items, make_project, make_user
from sqlalchemy import select

from labelloop.engine import annotate, queue, rounds
from labelloop.engine.annotate import record_annotation
from labelloop.engine.rounds.relabel import RELABEL_PRIORITY
from labelloop.store.tables import AnnotationRow, AuditEventRow, ItemRow, TaskRow

N_PER_CLASS = 25
N_NEW = 10
FLIPPED = ("it3", "it30")  # labelled against the text by their one annotator


def _texts(n_per_class: int) -> list[str]:
    pos = [f"wonderful excellent great lovely film {i}" for i in range(n_per_class)]
    neg = [f"terrible awful boring dreadful film {i}" for i in range(n_per_class)]
    return pos + neg


def _project(db, relabel: str) -> int:
    project = make_project(
        db, settings={"eval_share": 0, "batch_size": 4, "relabel": relabel,
                      "label_check_folds": 0},
    )  # fmt: skip
    add_items(db, project, 2 * N_PER_CLASS, texts=_texts(N_PER_CLASS))
    add_items(db, project, N_NEW, prefix="new", texts=_texts(N_NEW // 2))
    for i in range(2 * N_PER_CLASS):
        label = "pos" if i < N_PER_CLASS else "neg"
        if f"it{i}" in FLIPPED:
            label = "neg" if label == "pos" else "pos"
        record_annotation(db, actor="ann", project=project, external_id=f"it{i}", label=label)
    make_user(db, "ann")
    return project


def _open_tasks(db) -> dict[str, TaskRow]:
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, TaskRow)
            .join(TaskRow, TaskRow.item_id == ItemRow.id)
            .where(TaskRow.status == "open")
        ).all()
    return {external_id: task for external_id, task in rows}


def test_weak_labels_are_asked_again_before_new_items(database):
    project = _project(database, "activelab")
    other = make_user(database, "other")
    info = rounds.train(database, actor="cli:test", project=project)
    summary = info.metrics["relabel"]
    assert summary["asked"] >= 1 and summary["asked"] + summary["new"] == 4
    open_tasks = _open_tasks(database)
    asked = {i for i, task in open_tasks.items() if "another annotation" in (task.reason or "")}
    assert asked and asked <= set(FLIPPED)
    for external_id in asked:
        task = open_tasks[external_id]
        assert task.needed == 1 and task.priority == RELABEL_PRIORITY
    with database.read() as session:
        items = session.execute(select(ItemRow).where(ItemRow.external_id.in_(asked))).scalars()
        # The label stands until the new vote comes.
        assert {item.status for item in items} == {"annotated"}
        assert "tasks.relabel" in session.execute(select(AuditEventRow.action)).scalars().all()

    # Someone who has not labelled it gets it first, and their vote joins the first.
    task = queue.lease_next_task(database, project_id=project, user=other)
    assert task.item.external_id in asked
    annotate.submit_annotation(database, task_id=task.id, user=other, label="pos")
    with database.read() as session:
        votes = (
            session.execute(
                select(AnnotationRow.actor)
                .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
                .where(
                    ItemRow.external_id == task.item.external_id, AnnotationRow.status == "active"
                )
            )
            .scalars()
            .all()
        )
        done = session.get(TaskRow, task.id)
    assert sorted(votes) == ["ann", "other"] and done.status == "done"


def test_no_one_left_to_ask_and_the_rule_off(database):
    project = _project(database, "off")
    info = rounds.train(database, actor="cli:test", project=project)
    assert "relabel" not in info.metrics
    assert not any("another annotation" in (t.reason or "") for t in _open_tasks(database).values())
    # On, but every item was labelled by the only annotator there is: nobody to ask.
    from labelloop.engine.projects import update_settings

    update_settings(database, actor="cli:test", project=project, changes={"relabel": "activelab"})
    info = rounds.train(database, actor="cli:test", project=project)
    assert info.metrics["relabel"]["asked"] == 0
