"""The fairness report: shares, labels, agreement, model quality per group, and flags."""

from __future__ import annotations

import pytest
from test_rounds import text_records

from labelloop.engine import annotate, fairness, rounds
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.exceptions import ValidationError


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _project(db, *, n=240, n_labelled=80):
    create_project(
        db, actor="x", name="people", task_type="classification", labels=["pos", "neg"],
        strategy="margin", settings={"eval_share": 0.25, "eval_min": 20, "overlap": 1},
    )  # fmt: skip
    records = text_records(n, n_labelled=n_labelled)
    for i, record in enumerate(records):
        # Group "b" is a fifth of the pool but only every twentieth labelled record.
        group = "b" if i % 5 == 0 else "a"
        if group == "b" and "label" in record and i % 20 != 0:
            del record["label"]
        record["meta"] = {"sex": group} if i % 17 else {}
    import_items(db, actor="x", project="people", records=records)
    return "people"


def test_without_group_fields_the_report_says_how_to_name_them(db):
    project = _project(db)
    report = fairness.fairness_report(db, project=project)
    assert report.fields == () and "group_fields" in report.note


def test_shares_labels_and_flags_per_group(db):
    project = _project(db)
    update_settings(db, actor="x", project=project, changes={"group_fields": ["sex"]})
    rounds.train(db, actor="x", project=project)
    report = fairness.fairness_report(db, project=project)
    [sex] = report.fields
    groups = {g.group: g for g in sex.groups}
    assert set(groups) == {"a", "b", "(none)"}  # items without the key are a group too
    assert sum(g.n_pool for g in groups.values()) == 240
    assert sum(g.pool_share for g in groups.values()) == pytest.approx(1.0)
    assert sum(g.n_labelled for g in groups.values()) == sum(
        sum(g.label_counts.values()) for g in groups.values()
    )
    b = groups["b"]
    assert b.label_share < b.pool_share
    assert "under-represented among the labels" in b.flags
    assert report.model_version == 1
    for group in groups.values():
        if group.n_eval_labelled:
            low, high = group.accuracy_ci
            assert low <= group.accuracy <= high
        if group.n_eval_labelled < 30:
            assert any(f.startswith("small") for f in group.flags)  # flagged, never dropped


def test_agreement_counts_items_labelled_twice(db):
    project = _project(db, n_labelled=0)
    update_settings(db, actor="x", project=project, changes={"group_fields": ["sex"]})
    for who, label in (("ann", "pos"), ("bob", "pos"), ("cat", "neg")):
        annotate.record_annotation(db, actor=who, project=project, external_id="r1", label=label)
    for who in ("ann", "bob"):
        annotate.record_annotation(db, actor=who, project=project, external_id="r2", label="neg")
    report = fairness.fairness_report(db, project=project)
    a = {g.group: g for g in report.fields[0].groups}["a"]
    assert (a.n_multi, a.agreement) == (2, 0.5)
    assert report.note.startswith("no model yet")


def test_bad_arguments_name_themselves(db):
    project = _project(db)
    with pytest.raises(ValidationError) as caught:
        fairness.fairness_report(db, project=project, fields="sex")
    assert caught.value.field == "fields"
    with pytest.raises(ValidationError) as caught:
        update_settings(db, actor="x", project=project, changes={"group_fields": "sex"})
    assert caught.value.field == "group_fields"
