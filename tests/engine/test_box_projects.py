"""Box (``boxes``) projects on SQLite and PostgreSQL: images imported with their size,
boxes checked against the image on every path a label takes, exported as box JSONL."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from _service_setup import make_user
from PIL import Image
from sqlalchemy import select

from labelloop.engine import annotate, queue, review
from labelloop.engine.export import export_items
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.store.tables import AnnotationRow, ItemRow

CAT = {"bbox": [2, 3, 20, 30], "label": "cat"}
DOG = {"bbox": [30, 5, 60, 40], "label": "dog"}


def write_images(folder, names, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)
    return folder


def box_project(db, tmp_path, name="shapes", **settings):
    return create_project(
        db,
        actor="cli:test",
        name=name,
        task_type="boxes",
        labels=["cat", "dog"],
        settings={
            "retrain_every": 0, "eval_min_labels": 0, "eval_share": 0,
            "media_root": str(tmp_path), **settings,
        },
    ).id  # fmt: skip


def _final_labels(db, project):
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, ItemRow.final_label).where(ItemRow.project_id == project)
        )
        return dict(rows.all())


def _payloads(db, project):
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, ItemRow.payload).where(ItemRow.project_id == project)
        )
        return dict(rows.all())


def test_box_project_is_not_multi_label_and_may_have_one_class(database):
    create_project(database, actor="cli:test", name="one", task_type="boxes", labels=["car"])
    with pytest.raises(ValidationError) as raised:
        create_project(
            database, actor="cli:test", name="two", task_type="boxes", labels=["a"],
            multi_label=True,
        )  # fmt: skip
    assert raised.value.field == "multi_label"


def test_a_directory_of_images_imports_with_each_size(database, tmp_path):
    write_images(tmp_path / "imgs", ["a.png", "b.png"])
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    project = box_project(database, tmp_path)
    report = import_items(database, actor="cli:test", project=project, path=tmp_path / "imgs")
    assert report.n_imported == 2 and report.ignored_files == ("notes.txt",)
    assert _payloads(database, project)["a.png"] == {
        "path": "imgs/a.png",
        "width": 64,
        "height": 48,
    }


def test_box_records_are_checked_against_the_image_and_nothing_changes_on_error(database, tmp_path):
    write_images(tmp_path, ["a.png", "b.png"])
    project = box_project(database, tmp_path)
    report = import_items(
        database,
        actor="cli:test",
        project=project,
        records=[
            {"id": "a", "image": "a.png", "boxes": [DOG, CAT]},
            {"id": "b", "image": "b.png", "boxes": []},
            {"id": "c", "image": "missing.png", "width": 100, "height": 80},
        ],
    )
    assert report.n_imported == 3 and report.n_labelled == 2
    assert _final_labels(database, project) == {"a": [CAT, DOG], "b": [], "c": None}
    assert _payloads(database, project)["c"] == {"path": "missing.png", "width": 100, "height": 80}
    bad = [
        {"id": "d", "image": "missing2.png", "boxes": [CAT]},
        {"id": "e", "image": "a.png", "boxes": [{"bbox": [0, 0, 65, 10], "label": "cat"}]},
    ]
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, records=bad)
    assert raised.value.field == "records.1.boxes.0.bbox" and "outside the image" in str(
        raised.value
    )
    for wrong, field in [
        ({"bbox": [5, 5, 4, 9], "label": "cat"}, "records.0.boxes.0.bbox"),
        ({"bbox": [5, 5, 9], "label": "cat"}, "records.0.boxes.0.bbox"),
        ({"bbox": [0, 0, float("inf"), 9], "label": "cat"}, "records.0.boxes.0.bbox"),
        ({"bbox": [-1, 0, 3, 9], "label": "cat"}, "records.0.boxes.0.bbox"),
        ({"bbox": [0, 0, 3, 9], "label": "cow"}, "records.0.boxes.0.label"),
        ({"bbox": [0, 0, 3, 9], "label": "cat", "score": 1}, "records.0.boxes.0.score"),
    ]:
        with pytest.raises(ImportDataError) as raised:
            import_items(
                database, actor="cli:test", project=project,
                records=[{"id": "f", "image": "b.png", "boxes": [wrong]}],
            )  # fmt: skip
        assert raised.value.field == field, wrong
    with pytest.raises(ImportDataError) as raised:
        import_items(
            database, actor="cli:test", project=project,
            records=[{"id": "g", "image": "a.png", "width": 10, "height": 48}],
        )  # fmt: skip
    assert raised.value.field == "records.0.width"
    assert set(_final_labels(database, project)) == {"a", "b", "c"}


def test_submit_record_and_review_check_boxes(database, tmp_path):
    write_images(tmp_path, ["a.png"])
    project = box_project(database, tmp_path, review_policy="all")
    import_items(
        database, actor="cli:test", project=project, records=[{"id": "a", "image": "a.png"}]
    )
    with pytest.raises(ValidationError) as raised:
        annotate.record_annotation(
            database, actor="model:det", project=project, external_id="a",
            label=[CAT, {"bbox": [0, 0, 10, 49], "label": "dog"}],
        )  # fmt: skip
    assert raised.value.field == "label.1.bbox"
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    with pytest.raises(ValidationError) as raised:
        annotate.submit_annotation(database, task_id=task.id, user=ann, label="cat")
    assert raised.value.field == "label"
    with pytest.raises(ValidationError) as raised:
        annotate.submit_annotation(database, task_id=task.id, user=ann, labels=["cat"])
    assert raised.value.field == "label"
    info, created = annotate.submit_annotation(
        database, task_id=task.id, user=ann, label=[DOG, CAT]
    )
    assert created and info.final_label == [CAT, DOG]
    rev = make_user(database, "rev", role="reviewer")
    leased = review.lease_next_review(database, project_id=project, user=rev)
    with pytest.raises(ValidationError) as raised:
        review.submit_review(
            database, review_task_id=leased.id, user=rev, verdict="correct",
            label=[{"bbox": [0, 0, 10, 10], "label": "bird"}],
        )  # fmt: skip
    assert raised.value.field == "label.0.label"
    outcome = review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="correct", label=[]
    )
    assert outcome.final_label == []
    with database.read() as session:
        labels = session.execute(select(AnnotationRow.label).order_by(AnnotationRow.id)).scalars()
        assert list(labels) == [[CAT, DOG], []]


def test_box_jsonl_export_imports_again_as_it_is(database, tmp_path):
    write_images(tmp_path, ["a.png", "b.png"])
    project = box_project(database, tmp_path)
    records = [
        {
            "id": "a",
            "image": "a.png",
            "boxes": [CAT, {"bbox": [0.5, 1.25, 9.75, 7], "label": "dog"}],
        },
        {"id": "b", "image": "b.png", "boxes": []},
        {"id": "c", "image": "gone.png"},
    ]
    import_items(database, actor="cli:test", project=project, records=records)
    out = io.StringIO()
    export_items(database, project=project, format="jsonl", out=out)
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    assert exported[0]["image"] == "a.png" and exported[0]["width"] == 64
    assert "path" not in exported[0]
    (tmp_path / "export.jsonl").write_text(out.getvalue())
    again = box_project(database, tmp_path, name="again")
    import_items(database, actor="cli:test", project=again, path=tmp_path / "export.jsonl")
    assert _final_labels(database, again) == _final_labels(database, project)
    assert _payloads(database, again) == _payloads(database, project)
    with pytest.raises(ValidationError) as raised:
        export_items(database, project=project, format="csv", out=io.StringIO())
    assert raised.value.field == "format"
