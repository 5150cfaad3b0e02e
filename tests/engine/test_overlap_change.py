"""Changing a project's overlap re-counts what its open items need, on both databases."""

from __future__ import annotations

from _service_setup import add_items, make_project, make_user
from sqlalchemy import select

from labelloop.engine import annotate, queue
from labelloop.engine.projects import update_settings
from labelloop.store.tables import AuditEventRow, ItemRow, TaskRow


def _label(db, project, user, label):
    task = queue.lease_next_task(db, project_id=project, user=user)
    return annotate.submit_annotation(db, task_id=task.id, user=user, label=label)[0]


def _tasks(db):
    with db.read() as session:
        rows = session.execute(select(TaskRow, ItemRow).join(ItemRow).order_by(TaskRow.id))
        return [(t.status, t.needed, i.status, i.final_label) for t, i in rows]


def test_raising_overlap_applies_to_open_items_not_to_final_ones(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 3)
    a, b = make_user(database, "a"), make_user(database, "b")
    _label(database, project, a, "pos")  # the first item is final under overlap 1
    update_settings(database, actor="cli:test", project=project, changes={"overlap": 2})
    assert _tasks(database) == [
        ("done", 0, "annotated", "pos"),
        ("open", 2, "open", None),
        ("open", 2, "open", None),
    ]
    second = _label(database, project, a, "neg")
    assert (second.item_status, second.final_label) == ("open", None)
    third = _label(database, project, b, "neg")
    assert third.item_id == second.item_id
    assert (third.item_status, third.final_label) == ("annotated", "neg")
    with database.read() as session:
        actions = session.execute(select(AuditEventRow.action)).scalars().all()
    assert actions.count("settings.changed") == 1


def test_lowering_overlap_settles_items_that_have_enough_votes(database):
    project = make_project(database, settings={"overlap": 3, "eval_share": 0})
    add_items(database, project, 2, overlap=3)
    a, b = make_user(database, "a"), make_user(database, "b")
    _label(database, project, a, "pos")
    _label(database, project, b, "pos")
    _label(database, project, a, "neg")
    assert _tasks(database) == [("open", 1, "open", None), ("open", 2, "open", None)]
    update_settings(database, actor="cli:test", project=project, changes={"overlap": 2})
    assert _tasks(database) == [("done", 0, "annotated", "pos"), ("open", 1, "open", None)]
    update_settings(database, actor="cli:test", project=project, changes={"overlap": 1})
    assert _tasks(database) == [("done", 0, "annotated", "pos"), ("done", 0, "annotated", "neg")]
    assert queue.lease_next_task(database, project_id=project, user=b) is None
