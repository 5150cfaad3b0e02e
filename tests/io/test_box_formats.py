"""Box formats as properties: COCO and Label Studio ``rectanglelabels`` files written from
any box records read back to the same records; bad files are refused naming the file,
the image or entry, and the field."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelloop.boxes import box_f1, check_boxes, match_boxes
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.io.coco import read_coco, write_coco
from labelloop.io.label_studio_json import (
    RectangleResults,
    read_label_studio_tasks,
    write_label_studio_tasks,
)

LABELS = ["cat", "dog", "car"]


@st.composite
def coordinate_pair(draw, size):
    # Pixel coordinates on a grid of 1/1000 px: what annotation tools store.
    a = draw(st.integers(0, size * 1000 - 1))
    b = draw(st.integers(a + 1, size * 1000))
    return a / 1000, b / 1000


@st.composite
def box_record(draw, number):
    width, height = draw(st.integers(1, 4000)), draw(st.integers(1, 3000))
    labelled = draw(st.booleans())
    record = {
        "id": f"img-{number}",
        "image": f"images/{number}.png",
        "width": width,
        "height": height,
        "meta": draw(st.sampled_from([{}, {"site": "north"}, {"k": [1, 2]}])),
    }
    if labelled:
        boxes = []
        for _ in range(draw(st.integers(0, 5))):
            x1, x2 = draw(coordinate_pair(width))
            y1, y2 = draw(coordinate_pair(height))
            boxes.append({"bbox": [x1, y1, x2, y2], "label": draw(st.sampled_from(LABELS))})
        record["boxes"] = boxes
    return record


@st.composite
def box_records(draw):
    n = draw(st.integers(1, 6))
    return [draw(box_record(i)) for i in range(n)]


def _plain(records):
    out = []
    for r in records:
        r = dict(r)
        if not r.get("meta"):
            r.pop("meta", None)
        out.append(r)
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=box_records())
def test_coco_round_trip_is_lossless(tmp_path, records):
    path = tmp_path / "coco.json"
    with open(path, "w") as handle:
        assert write_coco(records, handle, labels=LABELS) == len(records)
    read = [record for _, record in read_coco(path)]
    assert _plain(read) == _plain(records)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=box_records())
def test_label_studio_rectangles_round_trip_is_lossless(tmp_path, records):
    path = tmp_path / "tasks.json"
    kind = RectangleResults()
    with open(path, "w") as handle:
        write_label_studio_tasks(records, handle, kind=kind, label_key="boxes", to_name="image")
    tasks = json.loads(path.read_text())
    for task, record in zip(tasks, records, strict=True):
        for result in (task.get("annotations") or [{"result": []}])[0]["result"]:
            assert result["type"] == "rectanglelabels" and result["to_name"] == "image"
            assert result["original_width"] == record["width"]
            assert 0 <= result["value"]["x"] <= 100 and 0 < result["value"]["width"] <= 100
    read = [
        record
        for _, record in read_label_studio_tasks(
            path, kind=kind, data_key="image", label_key="boxes"
        )
    ]
    assert _plain(read) == _plain(records)


def test_label_studio_percentages_become_pixels(tmp_path):
    task = {
        "data": {"image": "a.png", "id": "a"},
        "annotations": [
            {
                "result": [
                    {
                        "type": "rectanglelabels", "original_width": 200, "original_height": 100,
                        "value": {"x": 10, "y": 20, "width": 25, "height": 50,
                                  "rectanglelabels": ["cat"]},
                    }
                ]
            }
        ],
    }  # fmt: skip
    path = tmp_path / "t.json"
    path.write_text(json.dumps([task]))
    [(_, record)] = read_label_studio_tasks(
        path, kind=RectangleResults(), data_key="image", label_key="boxes"
    )
    assert record["boxes"] == [{"bbox": [20.0, 20.0, 70.0, 70.0], "label": "cat"}]
    assert (record["width"], record["height"]) == (200, 100)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["value"].update(rotation=30), "annotations.0.result.0.value.rotation"),
        (lambda r: r["value"].update(rectanglelabels=["a", "b"]),
         "annotations.0.result.0.value.rectanglelabels"),
        (lambda r: r.pop("original_width"), "annotations.0.result.0.original_width"),
        (lambda r: r["value"].update(x="10"), "annotations.0.result.0.value.x"),
        (lambda r: r.update(type="polygonlabels"), "annotations.0.result.0.type"),
    ],
)  # fmt: skip
def test_bad_label_studio_rectangles_name_task_and_field(tmp_path, change, field):
    result = {
        "type": "rectanglelabels", "original_width": 200, "original_height": 100,
        "value": {"x": 10, "y": 20, "width": 25, "height": 50, "rectanglelabels": ["cat"]},
    }  # fmt: skip
    change(result)
    path = tmp_path / "t.json"
    second = {"data": {"image": "b.png", "id": "b"}, "annotations": [{"result": [result]}]}
    path.write_text(json.dumps([{"data": {"image": "a.png", "id": "a"}}, second]))
    with pytest.raises(ImportDataError) as raised:
        list(read_label_studio_tasks(path, kind=RectangleResults(), data_key="image",
                                     label_key="boxes"))  # fmt: skip
    assert raised.value.field == field
    assert str(path) in str(raised.value) and ":2" in str(raised.value)


@pytest.mark.parametrize(
    ("change", "field", "line"),
    [
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "annotations.0.bbox", None),
        (lambda d: d["annotations"][0].update(category_id=9), "annotations.0.category_id", None),
        (lambda d: d["annotations"][0].update(image_id=9), "annotations.0.image_id", None),
        (lambda d: d["annotations"][0].update(iscrowd=1), "annotations.0.iscrowd", None),
        (lambda d: d["images"][1].pop("file_name"), "file_name", 2),
        (lambda d: d["images"][1].update(id=1), "id", 2),
        (lambda d: d.pop("images"), "images", None),
    ],
)
def test_bad_coco_names_file_entry_and_field(tmp_path, change, field, line):
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 10, "height": 10},
            {"id": 2, "file_name": "b.png", "width": 10, "height": 10},
        ],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    change(document)
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ImportDataError) as raised:
        list(read_coco(path))
    assert raised.value.field == field and str(path) in str(raised.value)
    if line is not None:
        assert f":{line}" in str(raised.value)


def test_coco_images_without_annotations_are_unlabelled_or_empty(tmp_path):
    path = tmp_path / "coco.json"
    images = [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png", "labelled": False}]
    path.write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    assert [r.get("boxes") for _, r in read_coco(path)] == [[], None]
    path.write_text(json.dumps({"images": images}))
    assert [r.get("boxes") for _, r in read_coco(path)] == [None, None]


def test_writing_label_studio_needs_the_image_size():
    with pytest.raises(ValidationError) as raised:
        write_label_studio_tasks(
            [{"id": "a", "image": "a.png", "boxes": [{"bbox": [0, 0, 1, 1], "label": "cat"}]}],
            io.StringIO(), kind=RectangleResults(), label_key="boxes",
        )  # fmt: skip
    assert raised.value.field == "format"


def test_matching_is_one_to_one_and_by_label():
    cat = {"bbox": [0, 0, 10, 10], "label": "cat"}
    twin = {"bbox": [0, 0, 10, 11], "label": "cat"}
    # Two near-identical predictions for one truth: one match only.
    assert len(match_boxes([cat], [cat, twin])) == 1
    assert box_f1([cat], [cat, twin]) == pytest.approx(2 / 3)
    assert box_f1([cat], [{**cat, "label": "dog"}]) == 0.0
    assert box_f1([], []) == 1.0
    # Overlapping candidates: each box is matched once, both pairs are found.
    a = [{"bbox": [0, 0, 10, 10], "label": "x"}, {"bbox": [4, 0, 14, 10], "label": "x"}]
    b = [{"bbox": [2, 0, 12, 10], "label": "x"}, {"bbox": [0, 0, 9, 10], "label": "x"}]
    assert len(match_boxes(a, b)) == 2
    with pytest.raises(ValidationError) as raised:
        check_boxes([cat, {"bbox": [0, 0, 10, 10], "label": "cat", "extra": 1}])
    assert raised.value.field == "boxes.1.extra"


HF_COLUMNS = ["id", "image", "width", "height", "boxes", "meta"]


def _hf_read(path):
    from labelloop.io.hf import box_rows, read_hf

    rows = [row for _, row in box_rows(read_hf(path), source=str(path))]
    for row in rows:
        row.setdefault("boxes", None)
    return rows


def _with_nulls(records):
    out = []
    for r in _plain(records):
        out.append({"boxes": None, **r})
    return out


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=box_records(), parquet=st.booleans())
def test_hugging_face_boxes_round_trip_is_lossless(tmp_path, records, parquet):
    from labelloop.io.hf import write_hf

    path = tmp_path / ("boxes.parquet" if parquet else "boxes")
    if path.is_dir():
        import shutil

        shutil.rmtree(path)
    n = write_hf(
        records, path, columns=HF_COLUMNS, label_key="boxes", label_names=LABELS, parquet=parquet
    )
    assert n == len(records)
    assert _plain(_hf_read(path)) == _with_nulls(records)


def test_hugging_face_boxes_are_objects_with_class_labels(tmp_path):
    import datasets

    from labelloop.io.hf import write_hf

    record = {"id": "a", "image": "a.png", "width": 64, "height": 48,
              "boxes": [{"bbox": [1.0, 2.0, 30.0, 40.0], "label": "dog"}]}  # fmt: skip
    write_hf([record], tmp_path / "ds", columns=HF_COLUMNS, label_key="boxes", label_names=LABELS)
    dataset = datasets.load_from_disk(str(tmp_path / "ds"))
    assert dataset.features["objects"]["label"].feature.names == LABELS
    assert dataset[0]["objects"] == {"bbox": [[1.0, 2.0, 30.0, 40.0]], "label": [1]}
    assert "boxes" not in dataset.column_names


@pytest.mark.parametrize(
    ("objects", "field"),
    [
        ({"bbox": [[1.0, 2.0, 3.0, 4.0]], "label": []}, "objects.label"),
        ({"bbox": [[1.0, 2.0, 3.0]], "label": ["cat"]}, "objects.bbox.0"),
        ({"bbox": [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]], "label": ["cat", "dog"]}, "objects.bbox.1"),
    ],
)
def test_a_bad_hugging_face_box_row_names_row_and_field(tmp_path, objects, field):
    import datasets

    good = {"bbox": [[1.0, 2.0, 3.0, 4.0]], "label": ["cat"]}
    data = {"id": ["a", "b"], "image": ["a.png", "b.png"], "objects": [good, objects]}
    datasets.Dataset.from_dict(data).save_to_disk(str(tmp_path / "ds"))
    with pytest.raises(ImportDataError) as raised:
        _hf_read(tmp_path / "ds")
    assert raised.value.field == field and raised.value.line == 2


def _hf_read_as(path, bbox_format):
    from labelloop.io.hf import box_rows, read_hf

    rows = [row for _, row in box_rows(read_hf(path), source=str(path), bbox_format=bbox_format)]
    for row in rows:
        row.setdefault("boxes", None)
    return rows


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=box_records(), parquet=st.booleans(), bbox_format=st.sampled_from(["xyxy", "xywh"]))
def test_hugging_face_boxes_round_trip_in_either_layout(tmp_path, records, parquet, bbox_format):
    import shutil

    from labelloop.io.hf import write_hf

    path = tmp_path / ("boxes.parquet" if parquet else "boxes")
    if path.is_dir():
        shutil.rmtree(path)
    n = write_hf(
        records,
        path,
        columns=HF_COLUMNS,
        label_key="boxes",
        label_names=LABELS,
        parquet=parquet,
        bbox_format=bbox_format,
    )
    assert n == len(records)
    assert _plain(_hf_read_as(path, bbox_format)) == _with_nulls(records)


def test_an_xywh_export_is_the_coco_layout_with_categories(tmp_path):
    import datasets

    from labelloop.io.hf import write_hf

    record = {"id": "a", "image": "a.png", "width": 64, "height": 48,
              "boxes": [{"bbox": [1.5, 2.0, 30.0, 40.25], "label": "dog"}]}  # fmt: skip
    write_hf([record], tmp_path / "ds", columns=HF_COLUMNS, label_key="boxes",
             label_names=LABELS, bbox_format="xywh")  # fmt: skip
    dataset = datasets.load_from_disk(str(tmp_path / "ds"))
    assert dataset.features["objects"]["category"].feature.names == LABELS
    assert dataset[0]["objects"] == {"bbox": [[1.5, 2.0, 28.5, 38.25]], "category": [1]}


def test_a_coco_layout_dataset_reads_its_categories_and_sizes(tmp_path):
    import datasets

    # As Hugging Face detection sets (cppe-5 and the like) hold them: ids and areas too.
    classes = datasets.ClassLabel(names=LABELS)
    features = datasets.Features({
        "image_id": datasets.Value("int64"), "image": datasets.Value("string"),
        "width": datasets.Value("int64"), "height": datasets.Value("int64"),
        "objects": {"id": datasets.List(datasets.Value("int64")),
                    "area": datasets.List(datasets.Value("float64")),
                    "bbox": datasets.List(datasets.List(datasets.Value("float32"))),
                    "category": datasets.List(classes)},
    })  # fmt: skip
    data = {
        "image_id": [15],
        "image": ["a.png"],
        "width": [64],
        "height": [48],
        "objects": [
            {"id": [1, 2], "area": [200.0, 24.0], "bbox": [[2, 3, 10, 20], [0.5, 0.25, 4, 6]],
             "category": [2, 0]},
        ],
    }  # fmt: skip
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(tmp_path / "ds"))
    (row,) = _hf_read_as(tmp_path / "ds", "xywh")
    assert row["boxes"] == [
        {"bbox": [2.0, 3.0, 12.0, 23.0], "label": "car"},
        {"bbox": [0.5, 0.25, 4.5, 6.25], "label": "cat"},
    ]
    assert "objects" not in row


@pytest.mark.parametrize(
    ("objects", "bbox_format", "field", "words"),
    [
        ({"bbox": [[1.0, 2.0, -3.0, 4.0]], "category": ["cat"]}, "xywh", "objects.bbox.0",
         ["negative"]),
        ({"bbox": [[1.0, 2.0, 3.0, 4.0]], "category": []}, "xywh", "objects.category",
         ["one category per box"]),
        ({"bbox": [[1.0, 2.0, 3.0, 4.0]], "category": [None]}, "xywh", "objects.category.0",
         ["no class name"]),
        ({"bbox": [[10.0, 20.0, 5.0, 8.0]], "label": ["cat"]}, "xyxy", "objects.bbox.0",
         ["bbox_format xywh"]),
        ({"bbox": [[1.0, 2.0, 3.0, 4.0]], "area": [1.0]}, "xywh", "objects", ["category"]),
    ],
)  # fmt: skip
def test_a_bad_box_in_either_layout_names_row_and_field(tmp_path, objects, bbox_format, field,
                                                        words):  # fmt: skip
    import datasets

    # A good first row with the same keys: a dataset's rows share their struct's fields.
    sample = {"bbox": [[1.0, 2.0, 3.0, 4.0]], "label": ["cat"], "category": ["cat"]}
    good = {key: sample.get(key, [1.0]) for key in objects}
    line = 2 if {"label", "category"} & set(objects) else 1
    data = {"id": ["a", "b"], "image": ["a.png", "b.png"], "objects": [good, objects]}
    datasets.Dataset.from_dict(data).save_to_disk(str(tmp_path / "ds"))
    with pytest.raises(ImportDataError) as raised:
        _hf_read_as(tmp_path / "ds", bbox_format)
    assert raised.value.field == field and raised.value.line == line
    for word in words:
        assert word in str(raised.value)


def test_an_unknown_bbox_format_is_refused_by_reader_and_writer(tmp_path):
    from labelloop.io.hf import box_rows, write_hf

    with pytest.raises(ValidationError) as raised:
        box_rows([], source="x", bbox_format="cxcywh")
    assert raised.value.field == "bbox_format" and "xywh" in str(raised.value)
    with pytest.raises(ValidationError):
        write_hf([], tmp_path / "ds", columns=HF_COLUMNS, label_key="boxes",
                 label_names=LABELS, bbox_format="yolo")  # fmt: skip
    assert not (tmp_path / "ds").exists()
