"""What reviewers and admins browse: skipped items with their reasons, sorted columns,
saved filters, the per-annotator review counts, and the stopping verdict in plain words."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user

from labelloop.engine import annotate, audit, browse, queue, review, rounds
from labelloop.exceptions import NotFoundError, ValidationError


def _label_and_review(db, project, annotator, reviewer, verdicts):
    for verdict, label in verdicts:
        task = queue.lease_next_task(db, project_id=project, user=annotator)
        annotate.submit_annotation(db, task_id=task.id, user=annotator, label="pos")
        leased = review.lease_next_review(db, project_id=project, user=reviewer)
        review.submit_review(
            db, review_task_id=leased.id, user=reviewer, verdict=verdict, label=label, note="n"
        )


def test_the_skipped_filter_lists_skips_with_their_reasons(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 6)
    ann = make_user(database, "ann")
    bob = make_user(database, "bob")
    first = queue.lease_next_task(database, project_id=project, user=ann)
    queue.skip_task(database, task_id=first.id, user=ann, reason="ambiguous")
    again = queue.lease_next_task(database, project_id=project, user=bob)
    assert again.item.id == first.item.id
    queue.skip_task(database, task_id=again.id, user=bob, reason=None)

    found = browse.search_items(database, project, skipped=True)
    assert found.total == 1
    (row,) = found.items
    assert row.id == first.item.id
    assert [(k.user, k.reason) for k in row.skips] == [("ann", "ambiguous"), ("bob", None)]
    everything = browse.search_items(database, project)
    assert everything.total == 6
    assert sum(bool(item.skips) for item in everything.items) == 1
    # Items sorted by their skips, most first.
    assert browse.search_items(database, project, sort="-skips").items[0].id == row.id


def test_columns_sort_both_ways_and_a_bad_sort_names_the_field(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 5)
    ids = [i.external_id for i in browse.search_items(database, project, sort="external_id").items]
    assert ids == sorted(ids)
    down = [
        i.external_id for i in browse.search_items(database, project, sort="-external_id").items
    ]
    assert down == sorted(ids, reverse=True)
    # No scores yet: sorting by them keeps the id order in either direction.
    by_score = [i.id for i in browse.search_items(database, project, sort="-score").items]
    assert by_score == sorted(by_score)
    with pytest.raises(ValidationError, match="unknown sort 'colour'") as raised:
        browse.search_items(database, project, sort="colour")
    assert raised.value.field == "sort"


def test_saved_filters_are_saved_replaced_listed_and_deleted_with_audit(database):
    project = make_project(database)
    saved = browse.save_filter(
        database,
        actor="admin",
        project=project,
        name="  skipped ones ",
        filters={"skipped": "1", "sort": "-skips", "q": ""},
    )
    assert (saved.name, saved.filters) == ("skipped ones", {"skipped": "1", "sort": "-skips"})
    browse.save_filter(
        database, actor="admin", project=project, name="open", filters={"status": "open"}
    )
    replaced = browse.save_filter(
        database, actor="admin", project=project, name="skipped ones", filters={"skipped": "1"}
    )
    assert replaced.id == saved.id
    listed = browse.list_saved_filters(database, project)
    assert [(f.name, f.filters) for f in listed] == [
        ("open", {"status": "open"}),
        ("skipped ones", {"skipped": "1"}),
    ]
    browse.delete_saved_filter(database, actor="admin", project=project, filter_id=saved.id)
    assert [f.name for f in browse.list_saved_filters(database, project)] == ["open"]
    actions = [e["action"] for e in audit.export_events(database, project)]
    assert actions.count("filter.saved") == 3 and actions.count("filter.deleted") == 1

    with pytest.raises(ValidationError, match="unknown filter field 'colour'"):
        browse.save_filter(
            database, actor="a", project=project, name="x", filters={"colour": "red"}
        )
    with pytest.raises(ValidationError, match="needs a name"):
        browse.save_filter(database, actor="a", project=project, name="  ", filters={})
    with pytest.raises(ValidationError, match="must be text"):
        browse.save_filter(database, actor="a", project=project, name="x", filters={"q": 3})
    with pytest.raises(NotFoundError, match="no saved filter"):
        browse.delete_saved_filter(database, actor="a", project=project, filter_id=saved.id)
    assert [f.name for f in browse.list_saved_filters(database, project)] == ["open"]


def test_per_annotator_counts_of_rejections_corrections_and_skips(database):
    project = make_project(database, settings={"eval_share": 0, "review_policy": "all"})
    add_items(database, project, 8)
    ann = make_user(database, "ann")
    bob = make_user(database, "bob")
    rev = make_user(database, "rev", role="reviewer")
    _label_and_review(database, project, ann, rev, [("reject", None), ("correct", "neg")])
    _label_and_review(database, project, ann, rev, [("accept", None), ("reject", None)])
    task = queue.lease_next_task(database, project_id=project, user=bob)
    queue.skip_task(database, task_id=task.id, user=bob, reason="unclear")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    annotate.submit_annotation(
        database, task_id=task.id, user=ann, label="pos", unsure=True, comment="faint scan"
    )
    task = queue.lease_next_task(database, project_id=project, user=ann)
    annotate.submit_annotation(database, task_id=task.id, user=ann, label="pos", unsure=True)

    rows = {row.name: row for row in browse.annotator_throughput(database, project)}
    assert (rows["ann"].rejected, rows["ann"].corrected, rows["ann"].skipped) == (2, 1, 0)
    # Bob only skipped: he is listed all the same.
    assert (rows["bob"].total, rows["bob"].rejected, rows["bob"].skipped) == (0, 0, 1)
    # Labels marked unsure, and those with a comment, made while labelling.
    assert (rows["ann"].flagged, rows["ann"].commented) == (2, 1)
    assert (rows["bob"].flagged, rows["bob"].commented) == (0, 0)


def test_the_verdict_comes_in_plain_words_with_the_statistics_as_details(database):
    project = make_project(database, settings={"eval_share": 0, "label_budget": 2})
    add_items(database, project, 4)
    status = rounds.project_status(database, project)
    assert status.headline == "keep labelling: no model has been trained yet"
    assert status.details.startswith("no model trained yet")
    ann = make_user(database, "ann")
    for label in ("pos", "neg"):
        task = queue.lease_next_task(database, project_id=project, user=ann)
        annotate.submit_annotation(database, task_id=task.id, user=ann, label=label)
    spent = rounds.project_status(database, project)
    assert spent.should_stop
    assert spent.headline == "labelling has stopped paying off: the label budget is spent"
    assert "budget" in spent.details


def test_the_library_face_reads_feedback_skips_and_the_headline(tmp_path):
    import labelloop
    from labelloop.engine import users

    with labelloop.Workspace(f"sqlite:///{tmp_path / 'ws.db'}", actor="alice") as ws:
        project = ws.create_project(
            "films",
            task_type="classification",
            labels=["pos", "neg"],
            settings={"eval_share": 0, "review_policy": "all"},
        )
        project.add_items([{"id": f"f{n}", "text": f"Film {n}"} for n in range(4)])
        db = ws.db
        ann, _ = users.create_user(db, actor="t", name="ann", role="annotator", projects=["films"])
        rev, _ = users.create_user(db, actor="t", name="rev", role="reviewer", projects=["films"])
        task = queue.lease_next_task(db, project_id=project.id, user=ann)
        queue.skip_task(db, task_id=task.id, user=ann, reason="ambiguous")
        _label_and_review(db, project.id, ann, rev, [("reject", None)])
        assert [e.verdict for e in project.feedback("ann").entries] == ["reject"]
        found = project.search_items(skipped=True)
        assert [k.reason for k in found.items[0].skips] == ["ambiguous"]
        assert project.status().headline.startswith("keep labelling: ")
