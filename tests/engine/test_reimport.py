"""Re-importing a cumulative file: ``on_existing`` error, skip and update, on SQLite and
PostgreSQL; updates are audited, never change a label, and stay all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from labelloop.engine.annotate import record_annotation
from labelloop.engine.audit import verify_chain
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.io.records import text_hash
from labelloop.store.tables import AnnotationRow, AuditEventRow, ItemRow, TaskRow


def _project(db, name="reviews", **kwargs):
    kwargs.setdefault("task_type", "classification")
    kwargs.setdefault("labels", ["pos", "neg"])
    return create_project(db, actor="cli:tester", name=name, **kwargs)


def _jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _items(db) -> dict[str, ItemRow]:
    with db.read() as session:
        return {i.external_id: i for i in session.execute(select(ItemRow)).scalars()}


def _events(db, action: str) -> list[AuditEventRow]:
    with db.read() as session:
        return list(
            session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.action == action)
                .order_by(AuditEventRow.seq)
            ).scalars()
        )


def _state(db) -> tuple:
    """Every row an import may touch, as plain values."""
    with db.read() as session:
        items = sorted(
            (i.external_id, i.payload, i.media_ref, i.meta, i.content_hash, i.final_label)
            for i in session.execute(select(ItemRow)).scalars()
        )
        counts = tuple(
            session.execute(select(func.count()).select_from(table)).scalar()
            for table in (TaskRow, AnnotationRow, AuditEventRow)
        )
    return json.dumps(items), counts


_FIRST = [
    {"id": "r0", "text": "first text", "meta": {"group": "a"}},
    {"id": "r1", "text": "second text", "label": "pos", "meta": {"group": "a"}},
    {"id": "r2", "text": "third text"},
    {"id": "r3", "text": "fourth text", "label": "neg"},
]


def test_error_is_the_default_and_names_the_line(sqlite_db, tmp_path):
    _project(sqlite_db)
    import_items(sqlite_db, actor="a", project="reviews", records=_FIRST)
    path = _jsonl(tmp_path / "again.jsonl", [{"id": "new", "text": "x"}, _FIRST[2]])
    before = _state(sqlite_db)
    with pytest.raises(ImportDataError, match=r"again.jsonl:2, field 'id'") as caught:
        import_items(sqlite_db, actor="a", project="reviews", path=path)
    assert "already in the project" in str(caught.value) and "skip or update" in str(caught.value)
    assert _state(sqlite_db) == before


def test_unknown_mode_is_refused_naming_the_option(sqlite_db):
    _project(sqlite_db)
    with pytest.raises(ValidationError, match="error, skip, update") as caught:
        import_items(sqlite_db, actor="a", project="reviews", records=_FIRST, on_existing="merge")
    assert caught.value.field == "on_existing"


def test_skip_imports_the_new_records_and_counts_the_rest(database, tmp_path):
    _project(database)
    import_items(database, actor="a", project="reviews", records=_FIRST)
    before = _items(database)
    cumulative = [
        {**_FIRST[0], "text": "changed, but skipped"},
        _FIRST[1],
        {**_FIRST[2], "label": "neg"},  # a label on a skipped record changes nothing either
        _FIRST[3],
        {"id": "r4", "text": "a new one"},
        {"id": "r5", "text": "another new one", "label": "pos"},
    ]
    path = _jsonl(tmp_path / "all.jsonl", cumulative)
    report = import_items(database, actor="a", project="reviews", path=path, on_existing="skip")
    assert (report.n_records, report.n_imported, report.n_skipped, report.n_updated) == (6, 2, 4, 0)
    assert (report.n_labelled, report.n_open, report.on_existing) == (1, 1, "skip")
    after = _items(database)
    assert set(after) == {"r0", "r1", "r2", "r3", "r4", "r5"}
    for external_id in ("r0", "r1", "r2", "r3"):
        old, new = before[external_id], after[external_id]
        assert (new.payload, new.meta, new.final_label) == (old.payload, old.meta, old.final_label)
    assert _events(database, "items.updated") == []
    event = _events(database, "items.imported")[-1]
    assert event.after["on_existing"] == "skip" and event.after["existing_skipped"] == 4


def test_skip_still_checks_every_label(sqlite_db, tmp_path):
    _project(sqlite_db)
    import_items(sqlite_db, actor="a", project="reviews", records=_FIRST)
    path = _jsonl(tmp_path / "bad.jsonl", [{**_FIRST[0], "label": "meh"}])
    with pytest.raises(ImportDataError, match=r"bad.jsonl:1, field 'label'"):
        import_items(sqlite_db, actor="a", project="reviews", path=path, on_existing="skip")


def test_update_changes_what_differs_in_one_audited_event(database, tmp_path):
    _project(database)
    import_items(database, actor="a", project="reviews", records=_FIRST)
    before = _items(database)
    cumulative = [
        {**_FIRST[0], "text": "first text, corrected"},
        {**_FIRST[1], "meta": {"group": "b"}},  # same label: allowed
        _FIRST[2],  # unchanged
        {"id": "r3", "text": "fourth text"},  # no label: the item keeps "neg"
        {"id": "r4", "text": "first text"},  # r0's old content: a duplicate of r0
    ]
    path = _jsonl(tmp_path / "all.jsonl", cumulative)
    report = import_items(database, actor="b", project="reviews", path=path, on_existing="update")
    assert (report.n_records, report.n_imported, report.n_updated, report.n_skipped) == (5, 0, 2, 2)
    assert report.n_duplicates == 1 and report.duplicates[0].duplicate_of == "r0"
    after = _items(database)
    assert after["r0"].payload == {"text": "first text, corrected"}
    assert after["r0"].content_hash == text_hash("first text, corrected")
    assert after["r0"].content_hash != before["r0"].content_hash
    assert after["r1"].meta == {"group": "b"} and after["r1"].final_label == "pos"
    assert after["r3"].final_label == "neg" and after["r3"].status == before["r3"].status
    assert after["r0"].id == before["r0"].id and after["r0"].is_eval == before["r0"].is_eval
    [event] = _events(database, "items.updated")
    assert event.actor == "b" and event.target.startswith("project:")
    assert event.before["items"] == {
        "r0": {"payload": {"text": "first text"}, "content_hash": before["r0"].content_hash},
        "r1": {"meta": {"group": "a"}},
    }
    assert event.after["items"] == {
        "r0": {
            "payload": {"text": "first text, corrected"},
            "content_hash": after["r0"].content_hash,
        },
        "r1": {"meta": {"group": "b"}},
    }
    assert event.after["source"] == str(path)
    imported = _events(database, "items.imported")[-1]
    assert imported.after["updated"] == 2 and imported.after["on_existing"] == "update"
    assert verify_chain(database, "reviews").ok


def test_update_keeps_a_human_label_when_the_record_agrees(sqlite_db):
    _project(sqlite_db)
    import_items(sqlite_db, actor="a", project="reviews", records=_FIRST)
    record_annotation(sqlite_db, actor="ann", project="reviews", external_id="r2", label="pos")
    report = import_items(
        sqlite_db,
        actor="a",
        project="reviews",
        records=[{"id": "r2", "text": "third text, edited", "label": "pos"}],
        on_existing="update",
    )
    assert report.n_updated == 1
    item = _items(sqlite_db)["r2"]
    assert item.final_label == "pos" and item.label_source == "human"


@pytest.mark.parametrize(
    ("record", "held"),
    [
        ({"id": "r1", "text": "second text", "label": "neg"}, "final label 'pos'"),
        ({"id": "r2", "text": "third text", "label": "pos"}, "no final label"),
    ],
)
def test_update_never_changes_a_label(database, tmp_path, record, held):
    _project(database)
    import_items(database, actor="a", project="reviews", records=_FIRST)
    fine = [{**_FIRST[0], "text": "edited before the bad line"}, {"id": "new", "text": "new"}]
    path = _jsonl(tmp_path / "labels.jsonl", [*fine, record])
    before = _state(database)
    with pytest.raises(ImportDataError, match=r"labels.jsonl:3, field 'label'") as caught:
        import_items(database, actor="a", project="reviews", path=path, on_existing="update")
    assert held in str(caught.value) and "never changes a label" in str(caught.value)
    assert _state(database) == before


def test_update_compares_multi_labels_as_sets(sqlite_db):
    _project(sqlite_db, labels=["a", "b", "c"], multi_label=True)
    import_items(
        sqlite_db,
        actor="a",
        project="reviews",
        records=[{"id": 1, "text": "t", "labels": ["a", "c"]}],
    )
    same = [{"id": 1, "text": "t, edited", "labels": ["c", "a"]}]
    report = import_items(
        sqlite_db, actor="a", project="reviews", records=same, on_existing="update"
    )
    assert report.n_updated == 1 and _items(sqlite_db)["1"].final_label == ["a", "c"]
    other = [{"id": 1, "text": "t, edited", "labels": ["a"]}]
    with pytest.raises(ImportDataError, match=r"^records\.0\.labels: ") as err:
        import_items(sqlite_db, actor="a", project="reviews", records=other, on_existing="update")
    assert err.value.field == "records.0.labels"


def test_update_is_all_or_nothing_late_in_the_file(database, tmp_path):
    _project(database)
    import_items(
        database,
        actor="a",
        project="reviews",
        records=[{"id": i, "text": f"t {i}"} for i in range(12_000)],
    )
    records = [{"id": i, "text": f"t {i} edited"} for i in range(12_000)]
    records.append({"id": "last", "text": "x", "label": "unknown"})
    path = _jsonl(tmp_path / "late.jsonl", records)
    before = _state(database)
    with pytest.raises(ImportDataError, match=r"late.jsonl:12001, field 'label'"):
        import_items(database, actor="a", project="reviews", path=path, on_existing="update")
    assert _state(database) == before


def test_a_large_update_is_one_event_per_batch(sqlite_db):
    _project(sqlite_db)
    first = [{"id": i, "text": f"t {i}"} for i in range(12_000)]
    import_items(sqlite_db, actor="a", project="reviews", records=first)
    calls = []
    report = import_items(
        sqlite_db,
        actor="a",
        project="reviews",
        records=[{"id": i, "text": f"t {i}", "meta": {"n": i}} for i in range(12_000)],
        on_existing="update",
        on_progress=lambda *args: calls.append(args),
    )
    assert report.n_updated == 12_000 and report.n_imported == 0
    events = _events(sqlite_db, "items.updated")
    assert [len(e.after["items"]) for e in events] == [10_000, 2_000]
    assert calls[-1] == ("updating", 12_000, 12_000)
    assert _items(sqlite_db)["11999"].meta == {"n": 11999}


def test_update_to_another_items_content_is_skipped_as_a_duplicate(sqlite_db):
    _project(sqlite_db)
    import_items(sqlite_db, actor="a", project="reviews", records=_FIRST)
    report = import_items(
        sqlite_db,
        actor="a",
        project="reviews",
        records=[{"id": "r0", "text": "  third   text "}, {"id": "r2", "text": "brand new"}],
        on_existing="update",
    )
    assert (report.n_updated, report.n_duplicates) == (1, 1)
    assert [(d.external_id, d.duplicate_of) for d in report.duplicates] == [("r0", "r2")]
    assert _items(sqlite_db)["r0"].payload == {"text": "first text"}


def _statements(db, call) -> int:
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


@pytest.mark.parametrize("on_existing", ["error", "skip", "update"])
def test_statements_do_not_grow_with_the_records(sqlite_db, on_existing):
    """Bulk, not per row: the same statements for 3 and for 300 records of each kind."""
    _project(sqlite_db)
    counts = []
    for n in (3, 300):
        old = [{"id": f"{n}-{i}", "text": f"old {n} {i}"} for i in range(n)]
        import_items(sqlite_db, actor="a", project="reviews", records=old)
        again = [] if on_existing == "error" else [{**r, "text": r["text"] + "!"} for r in old]
        new = [{"id": f"{n}-new-{i}", "text": f"new {n} {i}"} for i in range(n)]
        counts.append(
            _statements(
                sqlite_db,
                lambda records=again + new: import_items(
                    sqlite_db, actor="a", project="reviews", records=records,
                    on_existing=on_existing,
                ),
            )
        )  # fmt: skip
    assert counts[0] == counts[1]
