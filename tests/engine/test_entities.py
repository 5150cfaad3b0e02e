"""Entity (``ner``) projects on SQLite and PostgreSQL: spans checked against the item's
text on every path a label takes, imported and exported through the entity formats."""

from __future__ import annotations

import json

import pytest
from _service_setup import make_user
from sqlalchemy import select

from labelloop.engine import annotate, queue, review
from labelloop.engine.export import export_items
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.store.tables import ItemRow

TEXT = "Ann Lee flew to New York"
PER = {"start": 0, "end": 7, "label": "PER"}
LOC = {"start": 16, "end": 24, "label": "LOC"}


def _project(db, name="tweets", **settings):
    return create_project(
        db,
        actor="cli:test",
        name=name,
        task_type="ner",
        labels=["PER", "LOC"],
        settings={"retrain_every": 0, "eval_min_labels": 0, "eval_share": 0, **settings},
    ).id


def _final_labels(db, project):
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, ItemRow.final_label).where(ItemRow.project_id == project)
        )
        return dict(rows.all())


def test_entity_project_needs_one_type_and_is_not_multi_label(database):
    create_project(database, actor="cli:test", name="one", task_type="ner", labels=["PER"])
    with pytest.raises(ValidationError) as raised:
        create_project(
            database, actor="cli:test", name="two", task_type="ner", labels=["A"], multi_label=True
        )
    assert raised.value.field == "multi_label"


def test_import_records_checks_spans_against_the_text(database):
    project = _project(database)
    report = import_items(
        database,
        actor="cli:test",
        project=project,
        records=[
            {"id": "a", "text": TEXT, "spans": [LOC, PER]},
            {"id": "b", "text": "nothing here", "spans": []},
            {"id": "c", "text": "not labelled yet"},
        ],
    )
    assert report.n_imported == 3
    assert _final_labels(database, project) == {"a": [PER, LOC], "b": [], "c": None}
    bad = [{"id": "d", "text": "short", "spans": [{"start": 0, "end": 9, "label": "PER"}]}]
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, records=bad)
    assert raised.value.field == "records.0.spans.0"
    unknown = [{"id": "e", "text": "Oslo", "spans": [{"start": 0, "end": 4, "label": "ORG"}]}]
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, records=unknown)
    assert raised.value.field == "records.0.spans.0.label"
    assert set(_final_labels(database, project)) == {"a", "b", "c"}


def test_overlapping_spans_are_refused_on_submit_naming_them(database):
    project = _project(database)
    import_items(database, actor="cli:test", project=project, records=[{"id": "a", "text": TEXT}])
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    overlapping = [PER, {"start": 4, "end": 15, "label": "LOC"}]
    with pytest.raises(ValidationError) as raised:
        annotate.submit_annotation(database, task_id=task.id, user=ann, label=overlapping)
    assert "overlap" in str(raised.value) and "(0, 7, 'PER')" in str(raised.value)
    assert raised.value.field == "label.1"
    with pytest.raises(ValidationError) as raised:
        annotate.submit_annotation(database, task_id=task.id, user=ann, label="PER")
    assert raised.value.field == "label"
    info, created = annotate.submit_annotation(
        database, task_id=task.id, user=ann, label=[LOC, PER]
    )
    assert created and info.final_label == [PER, LOC] and info.item_status == "annotated"


def test_record_and_review_check_spans_too(database):
    project = _project(database, review_policy="all")
    import_items(database, actor="cli:test", project=project, records=[{"id": "a", "text": TEXT}])
    with pytest.raises(ValidationError) as raised:
        annotate.record_annotation(
            database, actor="model:crf", project=project, external_id="a",
            label=[{"start": 0, "end": 99, "label": "PER"}],
        )  # fmt: skip
    assert raised.value.field == "label.0"
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    annotate.submit_annotation(database, task_id=task.id, user=ann, label=[PER])
    rev = make_user(database, "rev", role="reviewer")
    leased = review.lease_next_review(database, project_id=project, user=rev)
    with pytest.raises(ValidationError):
        review.submit_review(
            database, review_task_id=leased.id, user=rev, verdict="correct",
            label=[PER, {"start": 5, "end": 10, "label": "LOC"}],
        )  # fmt: skip
    outcome = review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="correct", label=[PER, LOC]
    )
    assert outcome.final_label == [PER, LOC]


@pytest.mark.parametrize("fmt", ["jsonl", "conll", "label_studio"])
def test_entity_formats_round_trip_through_projects(database, tmp_path, fmt):
    source = tmp_path / "in.jsonl"
    documents = [
        {"id": "a", "text": TEXT, "spans": [PER, LOC]},
        {"id": "b", "text": "nothing to see", "spans": []},
    ]
    source.write_text("\n".join(json.dumps(d) for d in documents), encoding="utf-8")
    first = _project(database, "first")
    import_items(database, actor="cli:test", project=first, path=source)
    out = tmp_path / f"out.{fmt}"
    report = export_items(database, project=first, format=fmt, out=out)
    assert report.n_records == 2
    second = _project(database, "second")
    import_items(database, actor="cli:test", project=second, path=out, format=fmt)
    assert _final_labels(database, second) == {"a": [PER, LOC], "b": []}


def test_conll_import_names_file_line_and_field_and_changes_nothing(database, tmp_path):
    project = _project(database)
    path = tmp_path / "bad.conll"
    path.write_text("Ann\tB-PER\nLee\tI-PER\n\nin\tO\nOslo\tI-LOC\n", encoding="utf-8")
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, path=path)
    assert (raised.value.line, raised.value.field) == (5, "tag")
    path.write_text("Ann\tB-PER\n\nOslo\tB-ORG\n", encoding="utf-8")
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, path=path)
    assert (raised.value.line, raised.value.field) == (3, "spans.0.label")
    assert _final_labels(database, project) == {}


def test_entity_formats_belong_to_entity_projects(database, tmp_path):
    classes = create_project(
        database, actor="cli:test", name="classes", task_type="classification", labels=["a", "b"]
    ).id
    path = tmp_path / "x.conll"
    path.write_text("a\tO\n", encoding="utf-8")
    with pytest.raises(ImportDataError, match="is for ner"):
        import_items(database, actor="cli:test", project=classes, path=path)
    with pytest.raises(ValidationError) as raised:
        export_items(database, project=classes, format="conll", out=tmp_path / "o.conll")
    assert raised.value.field == "format"
    entities = _project(database)
    with pytest.raises(ValidationError):
        export_items(database, project=entities, format="csv", out=tmp_path / "o.csv")


def test_conll_export_refuses_unlabelled_items(database, tmp_path):
    project = _project(database)
    import_items(database, actor="cli:test", project=project, records=[{"id": "a", "text": TEXT}])
    with pytest.raises(ValidationError, match="labelled items only"):
        export_items(database, project=project, format="conll", out=tmp_path / "o.conll")
    export_items(
        database, project=project, format="conll", out=tmp_path / "o.conll", labelled_only=True
    )
    assert (tmp_path / "o.conll").read_text() == ""


def test_workspace_labels_and_exports_an_entity_project(tmp_path):
    from labelloop.engine.workspace import Workspace

    with Workspace(f"sqlite:///{tmp_path / 'w.db'}", actor="cli:test") as workspace:
        tweets = workspace.create_project("tweets", task_type="ner", labels=["PER", "LOC"])
        tweets.add_items([{"id": "a", "text": TEXT}])
        info = tweets.annotate("a", [LOC, PER])
        assert info.final_label == [PER, LOC]
        out = tmp_path / "out.json"
        tweets.export(out, format="label_studio")
        [task] = json.loads(out.read_text())
        assert [r["value"]["text"] for r in task["annotations"][0]["result"]] == [
            "Ann Lee",
            "New York",
        ]
