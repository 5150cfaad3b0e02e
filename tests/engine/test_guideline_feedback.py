"""Disagreements grouped by confusion and cluster, guideline examples, per-version rates."""

from __future__ import annotations

import datetime as dt

import pytest
from _disagreement_setup import split_project
from _service_setup import add_items, make_user
from sqlalchemy import select

from labelloop.engine import annotate, queue
from labelloop.engine.disagreements import disagreement_report
from labelloop.engine.projects import (
    add_guideline_examples,
    get_guidelines,
    guideline_versions,
)
from labelloop.engine.users import get_user
from labelloop.exceptions import ValidationError
from labelloop.store.tables import AuditEventRow, GuidelineExampleRow, ItemRow, utcnow


def test_corrections_are_grouped_by_confusion_and_cluster(database):
    project, items = split_project(database)
    report = disagreement_report(database, project, n_clusters=2, min_flagged=3)
    # The reviewer's corrections of a's "pos" on the ironic items; b's "neg" stood.
    assert report.n_disagreements == 6
    assert report.n_this_week == 6
    (group,) = report.groups
    assert (group.given, group.correct) == ("pos", "neg")
    assert (group.n_this_week, group.n_before) == (6, 0)
    assert group.kinds == {"correction": 6}
    assert sorted(x.item_id for x in group.items) == sorted(items[:6])
    # The ironic items form one cluster, all of it corrected: a mislabelled cluster.
    (bad,) = report.mislabelled_clusters
    assert (bad.size, bad.n_flagged, bad.rate) == (6, 6, 1.0)
    assert {"ironic", "sarcastic"} <= set(bad.terms)
    assert group.cluster == bad.index and group.cluster_share == 1.0
    assert group.description.startswith("pos -> neg: 6 this week (0 before), mostly in cluster")
    assert "ironic" in group.description
    assert report.overall_rate == pytest.approx(0.5)
    (good,) = [c for c in report.clusters if not c.mislabelled]
    assert (good.size, good.n_flagged) == (6, 0)


def test_this_week_is_the_seven_days_up_to_now(database):
    project, _ = split_project(database)
    later = utcnow() + dt.timedelta(days=8)
    (group,) = disagreement_report(database, project, now=later, n_clusters=2).groups
    assert (group.n_this_week, group.n_before) == (0, 6)


def test_unresolved_splits_are_reported_in_label_order(database):
    project, _ = split_project(database)
    # Two more annotators split on a fresh item that has no final label yet.
    add_items(database, project, 1, overlap=2, prefix="new", texts=["ironic sarcastic again"])
    for name, label in (("c", "pos"), ("d", "neg")):
        user = make_user(database, name)
        task = queue.lease_next_task(database, project_id=project, user=user)
        annotate.submit_annotation(database, task_id=task.id, user=user, label=label)
    report = disagreement_report(database, project, n_clusters=2)
    split = [g for g in report.groups if g.kinds == {"split": 1}]
    assert len(split) == 1 and (split[0].given, split[0].correct) == ("neg", "pos")


def test_bad_options_name_the_field(database):
    project, _ = split_project(database)
    for options, field in (
        ({"n_clusters": 0}, "n_clusters"),
        ({"min_rate": 2}, "min_rate"),
        ({"max_items": True}, "max_items"),
    ):
        with pytest.raises(ValidationError) as raised:
            disagreement_report(database, project, **options)
        assert raised.value.field == field


def test_examples_make_a_new_version_shown_beside_the_guidelines(database):
    project, items = split_project(database)
    shown = add_guideline_examples(
        database,
        actor="admin",
        project=project,
        item_ids=items[:2],
        note="Irony flips the sentiment: label what is meant.",
    )
    assert shown.version == 2
    assert shown.text == "Label the *sentiment*."
    assert shown.note == "Irony flips the sentiment: label what is meant."
    assert [(e.item_id, e.label, e.version) for e in shown.examples] == [
        (items[0], "neg", 2),
        (items[1], "neg", 2),
    ]
    assert get_guidelines(database, project) == shown
    assert get_guidelines(database, project, 1).examples == ()
    later = add_guideline_examples(
        database, actor="admin", project=project, item_ids=[items[6]], note="Plain praise."
    )
    assert [e.version for e in later.examples] == [2, 2, 3]
    with database.read() as session:
        actions = (
            session.execute(select(AuditEventRow.action).where(AuditEventRow.project_id == project))
            .scalars()
            .all()
        )
    assert actions.count("guidelines.examples_added") == 2


@pytest.mark.parametrize(
    ("item_ids", "note", "field", "words"),
    [
        ([], "x", "item_ids", "at least one"),
        ([10**9], "x", "item_ids", "has no item"),
        (["1"], "x", "item_ids", "item_ids[0]"),
        ("same", "", "note", "note is needed"),
        ("same-twice", "x", "item_ids", "twice"),
        ("already", "x", "item_ids", "an example since guideline version 2"),
    ],
)
def test_bad_examples_change_nothing(database, item_ids, note, field, words):
    project, items = split_project(database)
    add_guideline_examples(database, actor="admin", project=project, item_ids=[items[0]], note="n")
    ids = {"same": [items[1]], "same-twice": [items[1], items[1]], "already": [items[0]]}
    with pytest.raises(ValidationError) as raised:
        add_guideline_examples(
            database,
            actor="admin",
            project=project,
            item_ids=ids[item_ids] if isinstance(item_ids, str) else item_ids,
            note=note,
        )
    assert raised.value.field == field and words in str(raised.value)
    assert get_guidelines(database, project).version == 2
    with database.read() as session:
        assert len(session.execute(select(GuidelineExampleRow)).all()) == 1


def test_an_item_without_a_label_cannot_be_an_example(database):
    project, _ = split_project(database)
    add_items(database, project, 1, prefix="open")
    with database.read() as session:
        open_id = session.execute(
            select(ItemRow.id).where(ItemRow.external_id == "open0")
        ).scalar_one()
    with pytest.raises(ValidationError, match="'open0' has no label yet"):
        add_guideline_examples(
            database, actor="admin", project=project, item_ids=[open_id], note="n"
        )


def test_rates_per_guideline_version(database):
    project, items = split_project(database)
    add_guideline_examples(database, actor="admin", project=project, item_ids=[items[0]], note="n")
    add_items(database, project, 2, overlap=2, prefix="v2-")
    for name in ("a", "b"):
        user = get_user(database, name)
        while (task := queue.lease_next_task(database, project_id=project, user=user)) is not None:
            annotate.submit_annotation(database, task_id=task.id, user=user, label="neg")
    v1, v2 = guideline_versions(database, project)
    assert v1.version == 1 and v1.n_examples_added == 0 and v1.note is None
    assert v1.n_annotations == 24 and v1.n_items_shared == 12
    assert v1.agreement == pytest.approx(0.5)
    # a's six ironic labels corrected; b's corrected to the label b gave count as accepted
    assert (v1.n_reviewed, v1.n_corrected, v1.n_rejected) == (24, 6, 0)
    assert v1.correction_rate == pytest.approx(0.25) and v1.rejection_rate == 0.0
    assert v2.version == 2 and v2.n_examples_added == 1 and v2.note == "n"
    assert (v2.n_annotations, v2.n_items_shared, v2.agreement) == (4, 2, 1.0)
    assert v2.n_reviewed == 0 and v2.correction_rate is None


def test_the_workspace_reaches_the_same_use_cases(sqlite_db):
    import labelloop

    project, items = split_project(sqlite_db)
    with labelloop.Workspace(sqlite_db.url, actor="alice") as ws:
        handle = ws.project(project)
        (group,) = handle.disagreements(n_clusters=2).groups
        assert (group.given, group.correct, group.n_total) == ("pos", "neg", 6)
        shown = handle.add_guideline_examples([items[0]], "Irony flips it.")
        assert (shown.version, shown.examples[0].item_id) == (2, items[0])
        assert [v.version for v in handle.guideline_versions()] == [1, 2]
    with sqlite_db.read() as session:
        actor = session.execute(
            select(AuditEventRow.actor).where(AuditEventRow.action == "guidelines.examples_added")
        ).scalar_one()
    assert actor == "alice"
