"""Hugging Face datasets on local disk: round trips and refusals (the hf extra)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelloop.exceptions import ImportDataError
from labelloop.io.hf import read_hf, write_hf

datasets = pytest.importorskip("datasets", reason="the hf extra (datasets) is not installed")

LABELS = ["neg", "pos", "mixed"]
PROVENANCE = {"annotators": ["ann"], "reviewers": [], "label_source": "human", "dataset_version": 1}


@st.composite
def record(draw: st.DrawFn, label_key: str) -> dict:
    text = draw(st.text(min_size=1, max_size=20))
    out = {"id": draw(st.text("abc019", min_size=1, max_size=6)), "text": text}
    out["score"] = draw(st.one_of(st.none(), st.floats(allow_nan=False, width=32)))
    if label_key == "label":
        out[label_key] = draw(st.one_of(st.none(), st.sampled_from(LABELS)))
    elif label_key == "labels":
        out[label_key] = draw(st.one_of(st.none(), st.lists(st.sampled_from(LABELS), unique=True)))
    else:
        cut = draw(st.integers(0, len(text)))
        out[label_key] = draw(
            st.one_of(st.none(), st.just([{"start": 0, "end": cut, "label": "pos"}] if cut else []))
        )
    out["meta"] = draw(st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4)))
    return {**out, **PROVENANCE}


@pytest.mark.parametrize("label_key", ["label", "labels", "spans"])
@pytest.mark.parametrize("parquet", [False, True])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_records_read_back_as_written(tmp_path_factory, label_key, parquet, data):
    records = data.draw(st.lists(record(label_key), min_size=1, max_size=6))
    path = tmp_path_factory.mktemp("hf") / ("d.parquet" if parquet else "d")
    columns = ["id", "text", "score", label_key, "meta", *PROVENANCE]
    assert write_hf(
        records, path, columns=columns, label_key=label_key, label_names=LABELS, parquet=parquet
    ) == len(records)
    assert [row for _, row in read_hf(path)] == records


def test_a_datasets_class_label_reads_as_names(tmp_path):
    features = datasets.Features(
        {
            "id": datasets.Value("int64"),
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["neg", "pos"]),
        }
    )
    data = {"id": [1, 2], "text": ["bad", "unknown"], "label": [0, -1]}
    datasets.Dataset.from_dict(data, features=features).save_to_disk(tmp_path / "d")
    rows = [row for _, row in read_hf(tmp_path / "d")]
    assert rows == [
        {"id": 1, "text": "bad", "label": "neg"},
        {"id": 2, "text": "unknown", "label": None},
    ]


def test_a_hub_name_is_refused_and_nothing_is_fetched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImportDataError, match="never fetches one from the Hub") as caught:
        list(read_hf("imdb"))
    assert caught.value.path == "imdb"


def test_a_dataset_dictionary_asks_for_one_split(tmp_path):
    ds = datasets.Dataset.from_dict({"id": ["a"], "text": ["x"]})
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(tmp_path / "dd")
    with pytest.raises(ImportDataError, match="one split's directory") as caught:
        list(read_hf(tmp_path / "dd"))
    assert str(tmp_path / "dd" / "train") in str(caught.value)


def test_an_index_out_of_range_names_the_row_and_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = datasets.Features(
        {"id": datasets.Value("string"), "label": datasets.ClassLabel(names=["a"])}
    )
    table = pa.table({"id": ["x", "y"], "label": pa.array([0, 5], pa.int64())})
    table = table.replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features.to_dict()}})}
    )
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(ImportDataError, match="class index 5") as caught:
        list(read_hf(tmp_path / "bad.parquet"))
    assert (caught.value.line, caught.value.field) == (2, "label")


def test_a_meta_cell_that_is_not_json_names_the_row(tmp_path):
    datasets.Dataset.from_dict({"id": ["a", "b"], "meta": ["{}", "{oops"]}).save_to_disk(
        tmp_path / "m"
    )
    with pytest.raises(ImportDataError) as caught:
        list(read_hf(tmp_path / "m"))
    assert (caught.value.line, caught.value.field) == (2, "meta")
