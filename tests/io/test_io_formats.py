"""Readers, writers and the normalised record, without a database."""

from __future__ import annotations

import io
import json

import pytest

from labelloop.exceptions import ImportDataError
from labelloop.io.csv import parse_number, read_csv, write_csv
from labelloop.io.jsonl import read_jsonl, write_jsonl
from labelloop.io.media import read_media_dir
from labelloop.io.parquet import read_parquet, write_parquet
from labelloop.io.records import (
    FieldNames,
    detect_format,
    payload_hash,
    record_from_mapping,
    text_hash,
)


def test_text_hash_normalises_unicode_and_whitespace():
    assert text_hash("Caf\u00e9  au\tlait\n") == text_hash(" Cafe\u0301 au lait")
    assert text_hash("a b") != text_hash("A b")
    assert payload_hash({"b": 1, "a": 2}) == payload_hash({"a": 2, "b": 1})


def test_record_from_mapping_text_and_tabular():
    record = record_from_mapping(
        {"id": 3, "text": "hi", "label": "pos", "meta": {"g": 1}, "src": "web", "annotators": []},
        kind="text",
        source="f.jsonl",
        line=4,
    )
    assert record.external_id == "3" and record.payload == {"text": "hi", "src": "web"}
    assert record.label == "pos" and record.meta == {"g": 1} and record.line == 4
    row = record_from_mapping({"id": "r", "x": 1.5, "y": None}, kind="tabular", source="f", line=1)
    assert row.payload == {"x": 1.5, "y": None}
    renamed = FieldNames(id="key", text="body", label="y")
    record = record_from_mapping({"key": "k", "body": "b", "y": "neg"}, kind="text", source="f",
                                 line=1, fields=renamed)  # fmt: skip
    assert (record.external_id, record.payload, record.label) == ("k", {"text": "b"}, "neg")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"text": "a"}, "id"),
        ({"id": True, "text": "a"}, "id"),
        ({"id": 1, "text": ["a"]}, "text"),
        ({"id": 1, "text": "  "}, "text"),
        ({"id": 1, "text": "a", "label": 3}, "label"),
        ({"id": 1, "text": "a", "labels": "x"}, "labels"),
        ({"id": 1, "text": "a", "meta": "x"}, "meta"),
        ([1, 2], None),
    ],
)
def test_record_errors_name_file_line_field(raw, field):
    with pytest.raises(ImportDataError) as caught:
        record_from_mapping(raw, kind="text", source="data.jsonl", line=9)
    assert str(caught.value).startswith("data.jsonl:9")
    assert caught.value.field == field


def test_tabular_feature_values_must_be_scalars():
    with pytest.raises(ImportDataError, match="field 'x'"):
        record_from_mapping({"id": 1, "x": [1]}, kind="tabular", source="t.csv", line=2)


def test_jsonl_round_trip_and_blank_lines(tmp_path):
    buffer = io.StringIO()
    assert write_jsonl([{"id": "1", "text": "é"}, {"id": "2"}], buffer) == 2
    path = tmp_path / "a.jsonl"
    path.write_text(buffer.getvalue() + "\n   \n")
    assert list(read_jsonl(path)) == [(1, {"id": "1", "text": "é"}), (2, {"id": "2"})]
    path.write_bytes(b'{"id": 1}\n\xff\xfe\n')
    with pytest.raises(ImportDataError, match="a.jsonl:2"):
        list(read_jsonl(path))


def test_csv_cells_and_round_trip(tmp_path):
    path = tmp_path / "a.csv"
    buffer = io.StringIO()
    rows = [{"id": "1", "text": 'say "hi", ok', "labels": ["a", "b"], "meta": {"k": 1}}]
    write_csv(rows, buffer, columns=["id", "text", "labels", "meta"])
    path.write_text(buffer.getvalue() + "2,,,\n")
    assert list(read_csv(path)) == [
        (2, {"id": "1", "text": 'say "hi", ok', "labels": ["a", "b"], "meta": {"k": 1}}),
        (3, {"id": "2", "text": None, "labels": None, "meta": None}),
    ]
    assert [parse_number(c) for c in ("3", "2.5", "1e3", "x", "nan")] == [
        3,
        2.5,
        1000.0,
        "x",
        "nan",
    ]
    path.write_text('id,meta\n1,"{not json"\n')
    with pytest.raises(ImportDataError, match="a.csv:2, field 'meta'"):
        list(read_csv(path))


def test_parquet_round_trip_in_batches(tmp_path):
    path = tmp_path / "a.parquet"
    records = [
        {"id": str(i), "x": float(i), "label": None if i < 10_005 else "pos", "meta": {"i": i}}
        for i in range(10_010)
    ]
    assert write_parquet(records, path, columns=["id", "x", "label", "meta"]) == 10_010
    rows = list(read_parquet(path))
    assert rows[0] == (1, {"id": "0", "x": 0.0, "label": None, "meta": {"i": 0}})
    assert rows[-1][1]["label"] == "pos" and rows[-1][0] == 10_010


def test_media_dir_and_detect_format(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "clips" / ".hidden.wav").write_bytes(b"x")
    records, ignored = read_media_dir(tmp_path / "clips", task_type="audio", media_root=tmp_path)
    assert [(r.external_id, r.media_ref) for r in records] == [("a.wav", "clips/a.wav")]
    assert ignored == [".hidden.wav"]
    with pytest.raises(ImportDataError, match="outside the project's media root"):
        read_media_dir(tmp_path / "clips", task_type="audio", media_root=tmp_path / "other")
    assert detect_format(tmp_path / "clips") == "media"
    assert detect_format("x.NDJSON") == "jsonl" and detect_format("x.pq") == "parquet"
    with pytest.raises(ImportDataError, match="--format"):
        detect_format("x.txt")
    assert json.loads(json.dumps(records[0].payload)) == {"path": "clips/a.wav"}
