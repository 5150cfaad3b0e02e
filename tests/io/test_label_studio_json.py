"""Label Studio JSON tasks of item projects (``choices``): round trips and refusals."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelloop.exceptions import ImportDataError
from labelloop.io.label_studio_json import (
    LS_META_KEY,
    ChoicesResults,
    SpanResults,
    read_label_studio_tasks,
    write_label_studio_tasks,
)

LABELS = ["pos", "neg", "a b"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)


@st.composite
def item_record(draw: st.DrawFn, multi_label: bool) -> dict:
    record = {"id": draw(st.text("abc-_019", min_size=1, max_size=8)), "text": draw(st.text())}
    extra = draw(st.dictionaries(st.sampled_from(["source", "url", "n"]), JSON_VALUES))
    record.update(extra)
    if multi_label:
        label = draw(st.one_of(st.none(), st.lists(st.sampled_from(LABELS), unique=True)))
        record["labels"] = label
    else:
        record["label"] = draw(st.one_of(st.none(), st.sampled_from(LABELS)))
    record["meta"] = draw(st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3))
    return record


def _round_trip(records, tmp_path, multi_label, **kwargs):
    kind = ChoicesResults(multi_label=multi_label)
    label_key = "labels" if multi_label else "label"
    buffer = io.StringIO()
    write_label_studio_tasks(records, buffer, kind=kind, label_key=label_key, **kwargs)
    path = tmp_path / "tasks.json"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return [r for _, r in read_label_studio_tasks(path, kind=kind, label_key=label_key)]


def _without_empty_label(record, key):
    return {k: v for k, v in record.items() if not (k == key and v is None)}


@pytest.mark.parametrize("multi_label", [False, True])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_records_read_back_as_written(tmp_path, multi_label, data):
    key = "labels" if multi_label else "label"
    records = data.draw(st.lists(item_record(multi_label), max_size=5))
    back = _round_trip(records, tmp_path, multi_label)
    assert back == [_without_empty_label(r, key) for r in records]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(item_record(False), max_size=4), data=st.data())
def test_label_studio_fields_survive_a_stay_in_labelloop(tmp_path, records, data):
    """What Label Studio has and labelloop has no place for comes back out as it went in."""
    tasks = []
    for number, record in enumerate(records):
        task = {
            "id": 1000 + number,
            "data": {k: v for k, v in record.items() if k not in ("label", "meta")},
            "meta": record["meta"],
        }
        if record["label"] is not None:
            task["annotations"] = [
                {
                    "id": 7 + number,
                    "completed_by": data.draw(st.one_of(st.integers(1, 9), st.emails())),
                    "lead_time": 3.5,
                    "result": [
                        {
                            "id": "r0",
                            "from_name": "label",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [record["label"]]},
                        }
                    ],
                },
                {"was_cancelled": True, "result": []},
            ]
        if data.draw(st.booleans()):
            task["predictions"] = [{"model_version": "theirs", "score": 0.5, "result": []}]
        tasks.append(task)
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks))
    kind = ChoicesResults()
    read = [r for _, r in read_label_studio_tasks(path, kind=kind)]
    buffer = io.StringIO()
    write_label_studio_tasks(read, buffer, kind=kind)
    assert json.loads(buffer.getvalue()) == tasks


def test_a_prediction_carries_the_informativeness_and_is_not_imported(tmp_path):
    record = {
        "id": "x",
        "text": "fine",
        "label": None,
        "meta": {},
        "annotators": [],
        "prediction": {
            "model_version": "labelloop-v3",
            "score": 0.8,
            "probabilities": {"pos": 0.55, "neg": 0.45},
        },
    }
    buffer = io.StringIO()
    write_label_studio_tasks([record], buffer, kind=ChoicesResults())
    (task,) = json.loads(buffer.getvalue())
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "labelloop-v3"
    assert prediction["score"] == 0.8
    assert prediction["result"][0]["value"] == {"choices": ["pos"]}
    assert prediction["result"][0]["score"] == 0.55
    assert task["labelloop"]["annotators"] == []
    path = tmp_path / "t.json"
    path.write_text(buffer.getvalue())
    ((_, back),) = read_label_studio_tasks(path, kind=ChoicesResults())
    assert back == {"id": "x", "text": "fine", "meta": {}}
    assert LS_META_KEY not in back["meta"]


GOOD = {
    "data": {"id": "a", "text": "hi"},
    "annotations": [{"result": [{"type": "choices", "value": {"choices": ["pos"]}}]}],
}


@pytest.mark.parametrize(
    ("task", "field", "words"),
    [
        ({"text": "no data"}, "data", "'data' object"),
        ({"data": {"text": 3, "id": "a"}}, "data.text", "string"),
        ({"data": {"text": "x"}}, "data.id", "needs data.id"),
        ({"data": {"text": "x", "id": "a"}, "meta": [1]}, "meta", "object"),
        ({"data": {"text": "x", "id": "a", "label": "pos"}}, "data.label", "rename"),
        (
            {**GOOD, "annotations": [GOOD["annotations"][0], GOOD["annotations"][0]]},
            "annotations",
            "2 annotations",
        ),
        (
            {**GOOD, "annotations": [{"result": [{"type": "labels", "value": {}}]}]},
            "annotations.0.result.0.type",
            "'labels'",
        ),
        (
            {
                **GOOD,
                "annotations": [{"result": [{"type": "choices", "value": {"choices": "pos"}}]}],
            },
            "annotations.0.result.0.value.choices",
            "list",
        ),
        (
            {
                **GOOD,
                "annotations": [
                    {"result": [{"type": "choices", "value": {"choices": ["pos", "neg"]}}]}
                ],
            },
            "annotations.0.result",
            "exactly one choice",
        ),
        ({**GOOD, "predictions": {"a": 1}}, "predictions", "list"),
    ],
)
def test_bad_tasks_name_the_file_task_and_field(tmp_path, task, field, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([GOOD, task]))
    with pytest.raises(ImportDataError) as caught:
        list(read_label_studio_tasks(path, kind=ChoicesResults()))
    assert caught.value.field == field
    assert caught.value.line == 2 and caught.value.path == str(path)
    assert words in str(caught.value)
    assert f"{path}:2" in str(caught.value)


def test_a_file_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "obj.json"
    path.write_text('{"data": {}}')
    with pytest.raises(ImportDataError, match="JSON array"):
        list(read_label_studio_tasks(path, kind=ChoicesResults()))


@st.composite
def entity_record(draw: st.DrawFn) -> dict:
    text = draw(st.text(min_size=1, max_size=30))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = [
        {"start": a, "end": b, "label": draw(st.sampled_from(LABELS))}
        for a, b in zip(cuts[::2], cuts[1::2], strict=False)
        if b > a
    ]
    record = {"id": draw(st.text("xyz09", min_size=1, max_size=5)), "text": text}
    record["spans"] = draw(st.sampled_from([None, spans]))
    record["meta"] = draw(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=2))
    return record


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(entity_record(), max_size=5))
def test_entity_records_read_back_as_written(tmp_path, records):
    buffer = io.StringIO()
    write_label_studio_tasks(records, buffer, kind=SpanResults(), label_key="spans")
    path = tmp_path / "spans.json"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    back = [r for _, r in read_label_studio_tasks(path, kind=SpanResults(), label_key="spans")]
    assert back == [_without_empty_label(r, "spans") for r in records]


def test_an_entity_result_names_its_place(tmp_path):
    value = {"start": 0, "end": 3, "text": "Adx", "labels": ["P"]}
    task = {
        "data": {"id": "a", "text": "Ada Lovelace"},
        "annotations": [{"result": [{"type": "labels", "value": value}]}],
    }
    path = tmp_path / "e.json"
    path.write_text(json.dumps([task]))
    with pytest.raises(ImportDataError) as caught:
        list(read_label_studio_tasks(path, kind=SpanResults(), label_key="spans"))
    assert caught.value.field == "annotations.0.result.0.value.text"
    assert f"{path}:1" in str(caught.value)
