"""Projects engine on SQLite and PostgreSQL: create, list, settings, guidelines, labels."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.engine.core.settings import DEFAULT_SETTINGS, review_policies
from labelloop.engine.projects import (
    create_project,
    get_guidelines,
    get_project_info,
    list_projects,
    set_guidelines,
    update_settings,
)
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.tables import AuditEventRow, AuditHeadRow, MembershipRow, UserRow


def _create(db, name="reviews", **kwargs):
    kwargs.setdefault("task_type", "classification")
    kwargs.setdefault("labels", ["pos", "neg"])
    return create_project(db, actor="cli:tester", name=name, **kwargs)


def test_create_stores_schema_settings_guidelines_and_audit(database):
    info = _create(database, labels=[" pos", "neg "], guidelines="# Label sentiment")
    assert info.labels == ("pos", "neg")
    assert info.settings == DEFAULT_SETTINGS
    assert info.guideline_version == 1
    assert info.created_at.tzinfo is not None
    assert get_guidelines(database, "reviews").text == "# Label sentiment"
    with database.read() as session:
        events = session.execute(select(AuditEventRow)).scalars().all()
        head = session.get(AuditHeadRow, f"project:{info.id}")
    assert [e.action for e in events] == ["project.created"]
    assert events[0].target == f"project:{info.id}" and events[0].actor == "cli:tester"
    assert head is not None and head.seq == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"labels": ["pos", "pos"]}, "labels"),
        ({"labels": ["pos", ""]}, "labels"),
        ({"labels": ["a,b", "c"]}, "labels"),
        ({"labels": ["only"]}, "labels"),
        ({"task_type": "speech"}, "task_type"),
        ({"strategy": "psychic"}, "strategy"),
        ({"settings": {"overlap": 0}}, "overlap"),
        ({"settings": {"colour": "red"}}, "colour"),
    ],
)
def test_create_rejects_bad_arguments_naming_the_field(sqlite_db, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        _create(sqlite_db, **kwargs)
    assert caught.value.field == field
    assert list_projects(sqlite_db) == []


def test_names_are_unique_and_not_numbers(sqlite_db):
    _create(sqlite_db)
    with pytest.raises(ConflictError, match="exists"):
        _create(sqlite_db)
    with pytest.raises(ValidationError, match="number"):
        _create(sqlite_db, name="42")


def test_resolve_by_id_or_name_and_not_found_names_it(database):
    info = _create(database)
    with database.read() as session:
        assert resolve_project(session, info.id).name == "reviews"
        assert resolve_project(session, str(info.id)).name == "reviews"
        assert resolve_project(session, "reviews").id == info.id
        with pytest.raises(NotFoundError, match="'nope'"):
            resolve_project(session, "nope")
    with pytest.raises(NotFoundError):
        get_project_info(database, 999)


def test_list_with_membership_filter(database):
    first = _create(database, name="a")
    _create(database, name="b")
    with database.transaction() as session:
        user = UserRow(name="ann", role="annotator")
        session.add(user)
        session.flush()
        session.add(MembershipRow(project_id=first.id, user_id=user.id))
        user_id = user.id
    assert [p.name for p in list_projects(database)] == ["a", "b"]
    assert [p.name for p in list_projects(database, user_id=user_id)] == ["a"]


def test_update_settings_validates_and_audits_before_after(database):
    info = _create(database)
    updated = update_settings(
        database,
        actor="cli:tester",
        project=info.id,
        changes={
            "overlap": 3,
            "review_policy": ["percent", "model_disagrees"],
            "strategy": "margin",
        },
    )
    assert updated.settings["overlap"] == 3 and updated.strategy == "margin"
    assert review_policies(updated.settings) == ("percent", "model_disagrees")
    for bad, field in [
        ({"eval_share": 1.5}, "eval_share"),
        ({"overlap": "2"}, "overlap"),
        ({"show_model_guess": 1}, "show_model_guess"),
        ({"review_policy": ["none", "all"]}, "review_policy"),
        ({"model": "not a path"}, "model"),
        ({"nonsense": 1}, "nonsense"),
    ]:
        with pytest.raises(ValidationError) as caught:
            update_settings(database, actor="x", project="reviews", changes=bad)
        assert caught.value.field == field
    assert get_project_info(database, "reviews").settings["overlap"] == 3
    with database.read() as session:
        event = session.execute(
            select(AuditEventRow).where(AuditEventRow.action == "settings.changed")
        ).scalar_one()
    assert event.before == {"overlap": 1, "review_policy": "none", "strategy": "auto"}
    assert event.after["overlap"] == 3


def test_guideline_versions(database):
    _create(database)
    assert get_guidelines(database, "reviews") is None
    assert set_guidelines(database, actor="a", project="reviews", text="v1") == 1
    assert set_guidelines(database, actor="a", project="reviews", text="v2") == 2
    assert get_guidelines(database, "reviews").text == "v2"
    assert get_guidelines(database, "reviews", 1).text == "v1"
    assert get_project_info(database, "reviews").guideline_version == 2
    with pytest.raises(NotFoundError):
        get_guidelines(database, "reviews", 7)
    with pytest.raises(ValidationError):
        set_guidelines(database, actor="a", project="reviews", text="  ")


def test_validate_label(sqlite_db):
    _create(sqlite_db, name="single")
    _create(sqlite_db, name="multi", labels=["a", "b", "c"], multi_label=True)
    with sqlite_db.read() as session:
        single = resolve_project(session, "single")
        multi = resolve_project(session, "multi")
    assert validate_label(single, "pos") == "pos"
    assert validate_label(multi, labels=["c", "a", "c"]) == ["a", "c"]
    assert validate_label(multi, labels=[]) == []
    for project, kwargs in [
        (single, {"label": "maybe"}),
        (single, {"label": None}),
        (single, {"labels": ["pos"]}),
        (multi, {"labels": ["a", "z"]}),
        (multi, {"label": "a"}),
        (multi, {"labels": "a"}),
    ]:
        with pytest.raises(ValidationError) as caught:
            validate_label(project, **kwargs)
        assert caught.value.field == "label"
