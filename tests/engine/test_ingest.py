"""Ingestion on SQLite and PostgreSQL: items, tasks, imported labels, eval set, duplicates,
and bad input that names file, line and field and leaves the database unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, get_project_info
from labelloop.exceptions import ImportDataError
from labelloop.io.records import FieldNames
from labelloop.store.tables import AnnotationRow, AuditEventRow, ItemRow, ProjectRow, TaskRow


def _project(db, name="reviews", **kwargs):
    kwargs.setdefault("task_type", "classification")
    kwargs.setdefault("labels", ["pos", "neg"])
    return create_project(db, actor="cli:tester", name=name, **kwargs)


def _jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _counts(db) -> dict[str, int]:
    with db.read() as session:
        return {
            table.__tablename__: session.execute(select(func.count()).select_from(table)).scalar()
            for table in (ItemRow, TaskRow, AnnotationRow, AuditEventRow)
        }


def test_import_creates_items_tasks_labels_eval_and_one_event(database, tmp_path):
    _project(database, settings={"overlap": 2})
    records = [
        {"id": f"r{i}", "text": f"review number {i}", "meta": {"group": i % 3}}
        | ({"label": "pos" if i % 8 else "neg"} if i % 4 == 0 else {})
        for i in range(200)
    ]
    path = _jsonl(tmp_path / "reviews.jsonl", records)
    report = import_items(database, actor="cli:tester", project="reviews", path=path)
    assert (report.n_records, report.n_imported, report.n_labelled, report.n_open) == (
        200,
        200,
        50,
        150,
    )
    assert report.n_eval == 50 and report.n_duplicates == 0
    with database.read() as session:
        items = {i.external_id: i for i in session.execute(select(ItemRow)).scalars()}
        tasks = session.execute(select(TaskRow)).scalars().all()
        annotations = session.execute(select(AnnotationRow)).scalars().all()
        events = (
            session.execute(select(AuditEventRow).where(AuditEventRow.action == "items.imported"))
            .scalars()
            .all()
        )
    assert items["r4"].final_label == "pos" and items["r4"].status == "annotated"
    assert items["r4"].label_source == "import" and items["r4"].meta == {"group": 1}
    assert items["r1"].status == "open" and items["r1"].payload == {"text": "review number 1"}
    assert len(tasks) == 150 and all(t.needed == 2 and t.status == "open" for t in tasks)
    # Unscored: the cold-start order sits under every scored task (the scale's rule 4).
    assert all(-1 <= t.priority < 0 for t in tasks) and len({t.priority for t in tasks}) == 150
    by_id = {i.id: i for i in items.values()}
    assert all(t.is_eval == by_id[t.item_id].is_eval for t in tasks)
    assert all(by_id[t.item_id].status == "open" for t in tasks)
    assert sum(i.is_eval for i in items.values()) == 50
    assert len(annotations) == 50 and {a.source for a in annotations} == {"import"}
    assert len(events) == 1
    assert events[0].after["sha256"] == report.sha256 and events[0].after["imported"] == 200
    info = get_project_info(database, "reviews")
    assert (info.n_items, info.n_labelled, info.n_open) == (200, 50, 150)


def test_eval_set_tops_up_across_imports(sqlite_db, tmp_path):
    _project(sqlite_db)
    first = _jsonl(tmp_path / "a.jsonl", [{"id": i, "text": f"t {i}"} for i in range(40)])
    second = _jsonl(tmp_path / "b.jsonl", [{"id": i, "text": f"t {i}"} for i in range(40, 440)])
    assert import_items(sqlite_db, actor="a", project="reviews", path=first).n_eval == 20
    assert import_items(sqlite_db, actor="a", project="reviews", path=second).n_eval == 30


def test_duplicate_content_is_skipped_and_reported(database, tmp_path):
    _project(database)
    import_items(
        database, actor="a", project="reviews", records=[{"id": "old", "text": "Same text"}]
    )
    report = import_items(
        database,
        actor="a",
        project="reviews",
        records=[
            {"id": "a", "text": "fresh"},
            {"id": "b", "text": "  Same   text "},
            {"id": "c", "text": "fresh\n"},
        ],
    )
    assert report.n_imported == 1 and report.n_duplicates == 2
    assert [(d.external_id, d.duplicate_of) for d in report.duplicates] == [
        ("b", "old"),
        ("c", "a"),
    ]
    assert get_project_info(database, "reviews").n_items == 2


def test_csv_multi_label_and_renamed_fields(sqlite_db, tmp_path):
    _project(sqlite_db, labels=["a", "b", "c"], multi_label=True)
    path = tmp_path / "items.csv"
    path.write_text(
        'key,body,tags,meta\n1,"first, with comma","c,a","{""lang"": ""en""}"\n2,second,,\n',
        encoding="utf-8",
    )
    fields = FieldNames(id="key", text="body", labels="tags")
    report = import_items(sqlite_db, actor="a", project="reviews", path=path, fields=fields)
    assert report.n_labelled == 1
    with sqlite_db.read() as session:
        rows = session.execute(select(ItemRow).order_by(ItemRow.id)).scalars().all()
    assert rows[0].final_label == ["a", "c"] and rows[0].meta == {"lang": "en"}
    assert rows[0].payload == {"text": "first, with comma"}
    assert rows[1].final_label is None
    more = import_items(
        sqlite_db, actor="a", project="reviews", records=[{"id": "3", "text": "t", "label": "b, a"}]
    )
    assert more.n_labelled == 1


def test_tabular_csv_and_parquet(sqlite_db, tmp_path):
    _project(sqlite_db, task_type="tabular", labels=["yes", "no"])
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("id,age,city,label\n1,34,Oslo,yes\n2,5.5,,\n", encoding="utf-8")
    import_items(sqlite_db, actor="a", project="reviews", path=csv_path)
    table = pa.table({"id": ["3"], "age": [7.0], "city": ["Rome"], "label": ["no"]})
    parquet_path = tmp_path / "rows.parquet"
    pq.write_table(table, parquet_path)
    import_items(sqlite_db, actor="a", project="reviews", path=parquet_path)
    with sqlite_db.read() as session:
        payloads = [
            i.payload for i in session.execute(select(ItemRow).order_by(ItemRow.id)).scalars()
        ]
    assert payloads == [
        {"age": 34, "city": "Oslo"},
        {"age": 5.5, "city": None},
        {"age": 7.0, "city": "Rome"},
    ]


def test_media_directory_by_reference(sqlite_db, tmp_path):
    _project(sqlite_db, task_type="image", labels=["cat", "dog"])
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"\x89PNG one")
    (folder / "sub" / "b.JPG").write_bytes(b"jpeg two")
    (folder / "sub" / "copy.png").write_bytes(b"\x89PNG one")
    (folder / "notes.txt").write_text("not an image")
    report = import_items(sqlite_db, actor="a", project="reviews", path=folder)
    assert report.format == "media" and report.n_imported == 2 and report.n_duplicates == 1
    assert report.ignored_files == ("notes.txt",)
    with sqlite_db.read() as session:
        items = session.execute(select(ItemRow).order_by(ItemRow.id)).scalars().all()
        project = session.execute(select(ProjectRow)).scalar_one()
    assert [i.media_ref for i in items] == ["a.png", "sub/b.JPG"]
    assert items[0].payload == {"path": "a.png"} and len(items[0].content_hash) == 64
    assert project.settings["media_root"] == str(folder.resolve())


def _bad_parquet(path: Path) -> None:
    path.write_bytes(b"PAR1 this is not parquet")


BAD_INPUTS = [
    ("bad.jsonl", '{"id": 1, "text": "ok"}\n{"id": 2, "text": "broken"\n', 2, None, "malformed"),
    ("bad.jsonl", '{"id": 1, "text": "ok"}\n{"text": "no id"}\n', 2, "id", "missing id"),
    ("bad.jsonl", '{"id": 1}\n', 1, "text", "missing text"),
    ("bad.jsonl", '{"id": 1, "text": "a", "label": "meh"}\n', 1, "label", "unknown label"),
    ("bad.jsonl", '{"id": 1, "text": 5}\n', 1, "text", "must be a string"),
    ("bad.jsonl", '{"id": 1, "text": "a", "meta": [1]}\n', 1, "meta", "object"),
    ("bad.jsonl", '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n', 2, "id", "duplicate id"),
    ("bad.jsonl", "", None, None, "empty"),
    ("bad.csv", 'id,text\n1,"unterminated\n', 2, None, "bad CSV"),
    ("bad.csv", "id,text\n1,a,extra\n", 2, None, "expected 2 cells"),
    ("bad.csv", "id,text,label\n1,a,maybe\n", 2, "label", "unknown label"),
    ("bad.parquet", _bad_parquet, None, None, "Parquet"),
]


@pytest.mark.parametrize(("name", "content", "line", "field", "message"), BAD_INPUTS)
def test_bad_input_names_the_place_and_writes_nothing(
    sqlite_db, tmp_path, name, content, line, field, message
):
    _project(sqlite_db)
    import_items(sqlite_db, actor="a", project="reviews", records=[{"id": "x", "text": "kept"}])
    before = _counts(sqlite_db)
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportDataError) as caught:
        import_items(sqlite_db, actor="a", project="reviews", path=path)
    text = str(caught.value)
    assert str(path) in text and message in text
    if line is not None:
        assert f"{path}:{line}" in text and caught.value.line == line
    if field is not None:
        assert caught.value.field == field and f"field {field!r}" in text
    assert _counts(sqlite_db) == before


def test_bad_input_late_in_file_writes_nothing_on_both_databases(database, tmp_path):
    _project(database)
    records = [{"id": i, "text": f"t {i}"} for i in range(25_000)]
    records.append({"id": "last", "text": "x", "label": "unknown"})
    path = _jsonl(tmp_path / "late.jsonl", records)
    before = _counts(database)
    with pytest.raises(ImportDataError, match=r"late.jsonl:25001, field 'label'"):
        import_items(database, actor="a", project="reviews", path=path)
    assert _counts(database) == before


def test_id_already_in_pool_is_an_error(sqlite_db, tmp_path):
    _project(sqlite_db)
    import_items(sqlite_db, actor="a", project="reviews", records=[{"id": 7, "text": "a"}])
    path = _jsonl(tmp_path / "again.jsonl", [{"id": "7", "text": "b"}])
    with pytest.raises(ImportDataError, match="already in the project"):
        import_items(sqlite_db, actor="a", project="reviews", path=path)


def test_records_in_memory_report_their_position_and_progress(sqlite_db):
    _project(sqlite_db)
    with pytest.raises(ImportDataError, match=r"^records\.1\.label: ") as caught:
        import_items(
            sqlite_db,
            actor="a",
            project="reviews",
            records=[{"id": 1, "text": "a"}, {"id": 2, "text": "b", "label": 5}],
        )
    assert (caught.value.field, caught.value.line) == ("records.1.label", 2)
    with pytest.raises(ImportDataError) as caught:
        import_items(sqlite_db, actor="a", project="reviews", records=[{"id": 1}])
    assert caught.value.field == "records.0.text"
    calls = []
    records = ({"id": i, "text": f"t {i}"} for i in range(12_000))
    import_items(
        sqlite_db,
        actor="a",
        project="reviews",
        records=records,
        on_progress=lambda *args: calls.append(args),
    )
    assert ("validating", 12_000, 12_000) in calls
    assert calls[-1] == ("writing", 12_000, 12_000)
