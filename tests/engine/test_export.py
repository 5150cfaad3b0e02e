"""Export on SQLite and PostgreSQL: round trips in every format, provenance, versions."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from labelloop.engine.export import export_items, iter_export_records
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.exceptions import NotFoundError
from labelloop.store.tables import (
    AnnotationRow,
    DatasetVersionEntryRow,
    DatasetVersionRow,
    ItemRow,
    ReviewRow,
    UserRow,
)

RECORDS = [
    {"id": "a", "text": "great film", "source": "web", "label": "pos", "meta": {"lang": "en"}},
    {"id": "b", "text": "dull, long", "source": "shop", "label": "neg", "meta": {}},
    {"id": "c", "text": "no opinion yet", "source": "web", "label": None, "meta": {"g": 2}},
]


def _project(db, name, **kwargs):
    kwargs.setdefault("task_type", "classification")
    kwargs.setdefault("labels", ["pos", "neg"])
    return create_project(db, actor="cli:tester", name=name, **kwargs)


def _export(db, project, fmt, tmp_path, **kwargs):
    path = tmp_path / f"{project}.{fmt}"
    report = export_items(db, project=project, format=fmt, out=path, **kwargs)
    return path, report


def _read(path, fmt):
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    return path.read_text()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_round_trip_is_identical(database, tmp_path, fmt):
    _project(database, "first")
    import_items(database, actor="cli:tester", project="first", records=RECORDS)
    first, report = _export(database, "first", fmt, tmp_path)
    assert report.n_records == 3
    _project(database, "second")
    import_items(database, actor="cli:tester", project="second", path=first)
    second, _ = _export(database, "second", fmt, tmp_path)
    assert _read(first, fmt) == _read(second, fmt)


def test_records_keep_the_import_keys_and_add_provenance(database):
    _project(database, "p")
    import_items(database, actor="cli:tester", project="p", records=RECORDS)
    exported = list(iter_export_records(database, "p"))
    for original, record in zip(RECORDS, exported, strict=True):
        assert {k: record[k] for k in original} == original
        assert record["annotators"] == [] and record["reviewers"] == []
        assert record["dataset_version"] is None
    assert [r["label_source"] for r in exported] == ["import", "import", None]
    assert [r["id"] for r in iter_export_records(database, "p", labelled_only=True)] == ["a", "b"]


def test_multi_label_round_trip_through_csv(sqlite_db, tmp_path):
    _project(sqlite_db, "m1", labels=["x", "y", "z"], multi_label=True)
    records = [{"id": "1", "text": "one", "labels": ["z", "x"]}, {"id": "2", "text": "two"}]
    import_items(sqlite_db, actor="a", project="m1", records=records)
    first, _ = _export(sqlite_db, "m1", "csv", tmp_path)
    _project(sqlite_db, "m2", labels=["x", "y", "z"], multi_label=True)
    import_items(sqlite_db, actor="a", project="m2", path=first)
    second, _ = _export(sqlite_db, "m2", "csv", tmp_path)
    assert first.read_text() == second.read_text()
    assert [r["labels"] for r in iter_export_records(sqlite_db, "m2")] == [["x", "z"], None]


def test_version_export_is_exact_and_provenance_names_people(database):
    _project(database, "p")
    import_items(database, actor="cli:tester", project="p", records=RECORDS)
    with database.transaction() as session:
        items = {i.external_id: i for i in session.execute(select(ItemRow)).scalars()}
        ann = UserRow(name="ann", role="annotator")
        rev = UserRow(name="rita", role="reviewer")
        session.add_all([ann, rev])
        session.flush()
        human = AnnotationRow(
            project_id=items["c"].project_id,
            item_id=items["c"].id,
            user_id=ann.id,
            actor="ann",
            source="human",
            label="pos",
        )
        session.add(human)
        session.flush()
        session.add(
            ReviewRow(
                project_id=items["c"].project_id,
                item_id=items["c"].id,
                annotation_id=human.id,
                reviewer_id=rev.id,
                verdict="accept",
            )
        )
        items["c"].final_label, items["c"].status = "pos", "accepted"
        version = DatasetVersionRow(project_id=items["a"].project_id, version=1, n_items=2)
        session.add(version)
        session.flush()
        session.add_all(
            [
                DatasetVersionEntryRow(
                    dataset_version_id=version.id, item_id=items[k].id, label=lab, annotation_ids=[]
                )
                for k, lab in (("a", "pos"), ("c", "pos"))
            ]
        )
        items["a"].final_label = "neg"  # relabelled after version 1 was taken

    current = {r["id"]: r for r in iter_export_records(database, "p")}
    assert current["a"]["label"] == "neg" and current["a"]["dataset_version"] is None
    assert current["c"]["dataset_version"] == 1
    assert current["c"]["annotators"] == ["ann"] and current["c"]["reviewers"] == ["rita"]
    old = list(iter_export_records(database, "p", version=1))
    assert [(r["id"], r["label"], r["dataset_version"]) for r in old] == [
        ("a", "pos", 1),
        ("c", "pos", 1),
    ]
    with pytest.raises(NotFoundError, match="dataset version 9"):
        list(iter_export_records(database, "p", version=9))


def test_export_to_a_stream(sqlite_db):
    _project(sqlite_db, "p")
    import_items(sqlite_db, actor="a", project="p", records=RECORDS)
    buffer = io.StringIO()
    report = export_items(sqlite_db, project="p", format="jsonl", out=buffer)
    assert report.n_records == 3 and len(buffer.getvalue().splitlines()) == 3
