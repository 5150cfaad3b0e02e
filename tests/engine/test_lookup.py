"""Row-to-project lookups used by the service's access guards."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import select

from labelloop.engine import annotate, lookup, queue
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.tables import ReviewTaskRow


def test_rows_resolve_to_their_project_and_membership(database):
    project = make_project(database, settings={"eval_share": 0, "review_policy": "all"})
    other = make_project(database, name="other")
    [task_id] = add_items(database, project, 1)
    ann = make_user(database, "ann", projects=(project,))
    stranger = make_user(database, "stranger", projects=(other,))
    queue.lease_next_task(database, project_id=project, user=ann)
    info, _created = annotate.submit_annotation(database, task_id=task_id, user=ann, label="pos")
    with database.read() as session:
        review_task_id = session.execute(select(ReviewTaskRow.id)).scalar_one()
    for find, row_id in (
        (lookup.task_project_id, task_id),
        (lookup.annotation_project_id, info.id),
        (lookup.review_task_project_id, review_task_id),
    ):
        assert find(database, row_id) == project
        assert find(database, row_id, member_id=ann.id) == project
        assert find(database, row_id, member_id=stranger.id) is None
        assert find(database, 10**9) is None
        assert find(database, 0) is None
    assert lookup.project_exists(database, project)
    assert not lookup.project_exists(database, 10**9)
    with pytest.raises(ValidationError):
        lookup.task_project_id(database, "1")


def test_project_settings_are_the_effective_ones(sqlite_db):
    project = make_project(sqlite_db, settings={"show_model_guess": False})
    settings = lookup.project_settings(sqlite_db, project)
    assert settings["show_model_guess"] is False and settings["overlap"] == 1
    with pytest.raises(NotFoundError):
        lookup.project_settings(sqlite_db, 10**9)
