"""Reviewers' feedback to annotators: what it lists, the unread count, the pulse."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user

from labelloop.engine import annotate, feedback, projects, queue, review
from labelloop.exceptions import ValidationError


def _label_and_review(db, project, annotator, reviewer, verdicts):
    for verdict, label, note in verdicts:
        task = queue.lease_next_task(db, project_id=project, user=annotator)
        annotate.submit_annotation(db, task_id=task.id, user=annotator, label="pos")
        leased = review.lease_next_review(db, project_id=project, user=reviewer)
        review.submit_review(
            db, review_task_id=leased.id, user=reviewer, verdict=verdict, label=label, note=note
        )


def test_feedback_lists_rejections_and_corrections_and_counts_the_unread(database):
    project = make_project(database, settings={"eval_share": 0, "review_policy": "all"})
    add_items(database, project, 6)
    ann = make_user(database, "ann")
    other = make_user(database, "other")
    rev = make_user(database, "rev", role="reviewer")
    _label_and_review(
        database,
        project,
        ann,
        rev,
        [
            ("accept", None, None),
            ("reject", None, "the critic is sarcastic"),
            ("correct", "neg", "read the last line"),
        ],
    )
    page = feedback.my_feedback(database, project=project, user=ann)
    assert (page.total, page.unread) == (2, 2)
    newest, older = page.entries
    assert (newest.verdict, newest.reviewer_label, newest.your_label) == ("correct", "neg", "pos")
    assert (newest.note, newest.reviewer, newest.unread) == ("read the last line", "rev", True)
    assert (older.verdict, older.reviewer_label) == ("reject", None)
    assert older.note == "the critic is sarcastic"
    assert older.item.external_id.startswith("it")
    assert feedback.my_feedback(database, project=project, user=other).total == 0
    assert feedback.pulse(database, project_id=project, user=ann).unread_feedback == 2

    assert feedback.mark_feedback_seen(database, project=project, user=ann) == 2
    assert feedback.mark_feedback_seen(database, project=project, user=ann) == 0
    assert feedback.unread_feedback(database, project=project, user=ann) == 0
    entries = feedback.my_feedback(database, project=project, user=ann).entries
    assert not any(entry.unread for entry in entries)
    # A new rejection is unread again; the others stay read.
    _label_and_review(database, project, ann, rev, [("reject", None, "no")])
    page = feedback.my_feedback(database, project=project, user=ann)
    assert (page.total, page.unread) == (3, 1) and page.entries[0].unread

    projects.set_guidelines(database, actor="cli:test", project=project, text="# v1")
    assert feedback.pulse(database, project_id=project, user=ann).guideline_version == 1
    with pytest.raises(ValidationError, match="limit"):
        feedback.my_feedback(database, project=project, user=ann, limit=0)
