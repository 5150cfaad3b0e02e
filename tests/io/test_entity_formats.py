"""Entity formats: CoNLL (BIO, BIOES), JSONL with offsets, Label Studio ``labels`` tasks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelloop.exceptions import ImportDataError
from labelloop.io.conll import read_conll, write_conll
from labelloop.io.entities import read_entity_jsonl, write_entity_jsonl
from labelloop.io.label_studio_tasks import read_label_studio, write_label_studio
from labelloop.ner import tokenize

LABELS = ["PER", "LOC", "I-ORG"]
IDS = st.one_of(st.none(), st.text("abc-_0123456789", min_size=1, max_size=8))


@st.composite
def any_document(draw: st.DrawFn) -> dict:
    """Any text, with non-overlapping character spans anywhere in it."""
    text = draw(st.text(min_size=1, max_size=40))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = [
        {"start": a, "end": b, "label": draw(st.sampled_from(LABELS))}
        for a, b in zip(cuts[::2], cuts[1::2], strict=False)
        if b > a
    ]
    document = {"id": draw(IDS), "text": text}
    if draw(st.booleans()):
        document["spans"] = spans
    return document


@st.composite
def token_document(draw: st.DrawFn) -> dict:
    """Words joined by single spaces, with spans over whole runs of tokens."""
    words = draw(st.lists(st.text("abXY1@#,.'-", min_size=1, max_size=5), min_size=1, max_size=10))
    text = " ".join(words)
    # Re-joining tokens with single spaces can split them anew: settle on a fixed point.
    for _ in range(5):
        joined = " ".join(t.text for t in tokenize(text)) or "x"
        if joined == text:
            break
        text = joined
    tokens = tokenize(text)
    spans, i = [], 0
    while i < len(tokens):
        length = draw(st.integers(0, 3))
        if length and i + length <= len(tokens):
            label = draw(st.sampled_from(LABELS))
            spans.append(
                {"start": tokens[i].start, "end": tokens[i + length - 1].end, "label": label}
            )
            i += length
        else:
            i += 1
    return {"id": draw(IDS), "text": text, "spans": spans}


def _write(tmp_path: Path, name: str, writer, documents, **options) -> Path:
    buffer = io.StringIO()
    writer(documents, buffer, **options)
    path = tmp_path / name
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(st.lists(token_document(), min_size=1, max_size=5), st.sampled_from(["BIO", "BIOES"]))
def test_conll_round_trip_is_lossless(tmp_path: Path, documents: list, scheme: str) -> None:
    path = _write(tmp_path, "a.conll", write_conll, documents, scheme=scheme)
    back = [doc for _, doc in read_conll(path, scheme=scheme)]
    assert back == documents
    again = _write(tmp_path, "b.conll", write_conll, back, scheme=scheme)
    assert again.read_text() == path.read_text()


@SETTINGS
@given(st.lists(any_document(), min_size=1, max_size=5))
def test_entity_jsonl_round_trip_is_lossless(tmp_path: Path, documents: list) -> None:
    path = _write(tmp_path, "a.jsonl", write_entity_jsonl, documents)
    assert [doc for _, doc in read_entity_jsonl(path)] == documents


@st.composite
def predicted_document(draw: st.DrawFn) -> dict:
    document = draw(any_document())
    if draw(st.booleans()):
        spans = draw(any_document()).get("spans", [])
        text = document["text"]
        spans = [s for s in spans if s["end"] <= len(text)]
        for span in spans:
            if draw(st.booleans()):
                span["score"] = draw(st.floats(0, 1))
        score = draw(st.one_of(st.none(), st.floats(0, 1)))
        document["predictions"] = [{"model_version": "v1", "score": score, "spans": spans}]
    return document


@SETTINGS
@given(st.lists(predicted_document(), min_size=1, max_size=5))
def test_label_studio_round_trip_is_lossless(tmp_path: Path, documents: list) -> None:
    path = _write(tmp_path, "a.json", write_label_studio, documents)
    assert [doc for _, doc in read_label_studio(path)] == documents


def test_conll_reads_wnut_style_files(tmp_path: Path) -> None:
    path = tmp_path / "ner.txt"
    path.write_text(
        "-DOCSTART- O\n\n@paul\tO\nEmpire\tB-facility\nState\tI-facility\n.\tO\n\t\n"
        "# id = t2\nFrom NN B-NP O\nParis NNP I-NP B-geo-loc\n",
        encoding="utf-8",
    )
    docs = list(read_conll(path))
    assert docs == [
        (3, {"id": None, "text": "@paul Empire State .", "spans": [
            {"start": 6, "end": 18, "label": "facility"}]}),
        (9, {"id": "t2", "text": "From Paris", "spans": [
            {"start": 5, "end": 10, "label": "geo-loc"}]}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("a\tO\nb\tI-PER\n", 2, "continues no 'PER' span"),
        ("a\tO\n\nb\n", 3, "token and its tag"),
        ("a\tB-PER\nb\tQ-PER\n", 2, "is not O or one of"),
    ],
)
def test_conll_errors_name_file_line_and_field(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.conll"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportDataError, match=message) as raised:
        list(read_conll(path))
    assert raised.value.path == str(path)
    assert raised.value.line == line
    assert raised.value.field == "tag"
    assert f"{path}:{line}" in str(raised.value)


def test_conll_lenient_reading_and_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "stray.conll"
    path.write_text("a\tI-PER\nb\tO\n", encoding="utf-8")
    assert list(read_conll(path, strict=False))[0][1]["spans"] == [
        {"start": 0, "end": 1, "label": "PER"}
    ]
    path.write_bytes(b"a\tO\n\xff\tO\n")
    with pytest.raises(ImportDataError, match="UTF-8") as raised:
        list(read_conll(path))
    assert raised.value.line == 2


def test_conll_writer_refuses_spans_off_token_boundaries() -> None:
    buffer = io.StringIO()
    with pytest.raises(ImportDataError, match="token boundaries") as raised:
        write_conll(
            [{"text": "ok"}, {"id": "x", "text": "New York", "spans": [(0, 6, "LOC")]}], buffer
        )
    assert raised.value.field.startswith("records.1.spans")
    assert buffer.getvalue() == ""


def test_entity_jsonl_names_line_and_field_of_overlaps(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        {"id": "a", "text": "Ann Lee", "spans": [[0, 3, "PER"]]},
        {"id": "b", "text": "Ann Lee", "spans": [[0, 3, "PER"], [2, 7, "PER"]]},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    with pytest.raises(ImportDataError, match="overlap") as raised:
        list(read_entity_jsonl(path))
    assert raised.value.line == 2
    assert raised.value.field == "spans.1"
    assert "(0, 3, 'PER')" in str(raised.value) and "(2, 7, 'PER')" in str(raised.value)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"text": 5}, "text"),
        ({"text": "ab", "id": [1]}, "id"),
        ({"text": "ab", "spans": [{"start": 0, "end": 9, "label": "A"}]}, "spans.0"),
        ({"text": "ab", "spans": [{"start": 0, "end": 1}]}, "spans.0.label"),
        ({"text": "ab", "spans": [{"start": 0, "end": 1, "label": "Z"}]}, "spans.0.label"),
    ],
)
def test_entity_jsonl_field_errors(tmp_path: Path, record: dict, field: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(ImportDataError) as raised:
        list(read_entity_jsonl(path, labels=["A"]))
    assert (raised.value.line, raised.value.field) == (1, field)


def _task(**changes) -> dict:
    task = {
        "id": 7,
        "data": {"text": "Ann in Oslo"},
        "annotations": [
            {
                "result": [
                    {
                        "type": "labels",
                        "from_name": "label",
                        "to_name": "text",
                        "value": {"start": 7, "end": 11, "text": "Oslo", "labels": ["LOC"]},
                    }
                ]
            }
        ],
    }
    task.update(changes)
    return task


def test_label_studio_reads_an_export(tmp_path: Path) -> None:
    cancelled = {"was_cancelled": True, "result": []}
    path = tmp_path / "ls.json"
    task = _task()
    task["annotations"].insert(0, cancelled)
    path.write_text(json.dumps([task, {"data": {"text": "x"}}]), encoding="utf-8")
    assert [doc for _, doc in read_label_studio(path)] == [
        {"id": "7", "text": "Ann in Oslo", "spans": [{"start": 7, "end": 11, "label": "LOC"}]},
        {"id": None, "text": "x"},
    ]


def _bad(path: Path, task: dict) -> ImportDataError:
    path.write_text(json.dumps([{"data": {"text": "ok"}}, task]), encoding="utf-8")
    with pytest.raises(ImportDataError) as raised:
        list(read_label_studio(path))
    assert raised.value.line == 2
    return raised.value


def test_label_studio_refuses_what_it_cannot_keep(tmp_path: Path) -> None:
    path = tmp_path / "ls.json"
    relation = {"type": "relation", "from_id": "a", "to_id": "b"}
    task = _task()
    task["annotations"][0]["result"].append(relation)
    assert _bad(path, task).field == "annotations.0.result.1.type"
    task = _task()
    task["annotations"][0]["result"][0]["value"]["labels"] = ["LOC", "ORG"]
    assert _bad(path, task).field == "annotations.0.result.0.value.labels"
    task = _task()
    task["annotations"][0]["result"][0]["value"]["text"] = "Osl"
    assert _bad(path, task).field == "annotations.0.result.0.value.text"
    task = _task()
    task["annotations"].append(task["annotations"][0])
    assert _bad(path, task).field == "annotations"
    task = _task(data={"body": "x"})
    assert _bad(path, task).field == "data.text"
    task = _task()
    task["annotations"][0]["result"][0]["value"].update(start=0, end=20, text="Ann in Oslo")
    assert _bad(path, task).field == "annotations.0.result.0"
    task = _task()
    task["annotations"][0]["result"][0]["value"]["start"] = "7"
    assert _bad(path, task).field == "annotations.0.result.0.value.start"


def test_label_studio_names_overlaps_and_bad_json(tmp_path: Path) -> None:
    task = _task()
    result = task["annotations"][0]["result"]
    result.append(json.loads(json.dumps(result[0])))
    result[1]["value"].update(start=4, end=11, text="in Oslo")
    error = _bad(tmp_path / "ls.json", task)
    assert "overlap" in str(error) and error.field == "annotations.0.result.0"
    path = tmp_path / "broken.json"
    path.write_text("[\n{", encoding="utf-8")
    with pytest.raises(ImportDataError, match="malformed JSON") as raised:
        list(read_label_studio(path))
    assert raised.value.line == 2
