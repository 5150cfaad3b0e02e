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
from labelloop.engine.agreement import agreement_report
from labelloop.engine.export import export_items
from labelloop.engine.ingest import import_items
from labelloop.engine.predictions import push_predictions
from labelloop.engine.projects import create_project, update_settings
from labelloop.engine.rounds import project_status, train
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.store.tables import AnnotationRow, ItemRow, PredictionRow, TaskRow

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
            "retrain_every": 0, "eval_min_labels": 0, "eval_share": 0, "eval_min": 0,
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


def _boxes(*scores, label="cat"):
    return [
        {"bbox": [1 + i, 1, 10 + i, 10], "label": label, "score": s} for i, s in enumerate(scores)
    ]


def _queue(db, project):
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id)
            .join(TaskRow, TaskRow.item_id == ItemRow.id)
            .where(ItemRow.project_id == project, TaskRow.status == "open")
            .order_by(TaskRow.priority.desc(), TaskRow.id)
        )
        return [r[0] for r in rows]


def _images(db, tmp_path, project, n):
    write_images(tmp_path, [f"{i}.png" for i in range(n)])
    import_items(
        db, actor="cli:test", project=project,
        records=[{"id": f"i{i}", "image": f"{i}.png"} for i in range(n)],
    )  # fmt: skip


def test_pushed_boxes_rank_images_by_their_aggregated_uncertainty(database, tmp_path):
    project = box_project(database, tmp_path, batch_size=1)
    _images(database, tmp_path, project, 4)
    pushed = [
        {"item_id": "i0", "boxes": _boxes(0.95, 0.9)},  # sure: mean u 0.075
        {"item_id": "i1", "boxes": _boxes(0.4)},  # one unsure box: mean u 0.6
        {"item_id": "i2", "boxes": _boxes(0.6, 0.6, 0.6, 0.6)},  # mean 0.4, sum 1.6
        {"item_id": "i3", "boxes": []},  # nothing detected: 0
    ]
    report = push_predictions(
        database, project_id=project, actor="model:det", model_version="det-1",
        predictions=pushed,
    )  # fmt: skip
    assert report.n_boxes == 7 and report.n_unsure_boxes == 1 and report.batch == ("i1",)
    assert _queue(database, project) == ["i1", "i2", "i0", "i3"]
    with database.read() as session:
        stored = session.execute(
            select(PredictionRow.structure, PredictionRow.probabilities, PredictionRow.score)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .where(ItemRow.external_id == "i0", ItemRow.project_id == project)
        ).one()
    assert stored.structure == _boxes(0.95, 0.9)
    assert stored.probabilities == {"cat": 0.95, "dog": 0.0}
    assert stored.score == pytest.approx(0.075)  # the default box_score is mean
    # A round trains nothing: it re-ranks by the pushed boxes under the current settings.
    update_settings(database, actor="cli:test", project=project, changes={"box_score": "sum"})
    info = train(database, actor="cli:test", project=project)
    assert info.strategy == "pushed-boxes" and info.model_version is None
    assert info.metrics["trained"] is False and "do not train" in info.metrics["note"]
    assert info.batch == ("i2",)
    assert _queue(database, project) == ["i2", "i1", "i0", "i3"]
    update_settings(database, actor="cli:test", project=project, changes={"box_score": "unsure"})
    assert train(database, actor="cli:test", project=project).batch == ("i1",)


def test_box_uncertainty_from_probabilities_and_topk(database, tmp_path):
    project = box_project(
        database, tmp_path, batch_size=1, box_uncertainty="probabilities", box_score="topk",
        box_topk=2,
    )  # fmt: skip
    _images(database, tmp_path, project, 2)
    sure = {"bbox": [0, 0, 5, 5], "label": "cat", "score": 0.5, "probabilities": [0.99, 0.01]}
    torn = {
        "bbox": [0, 0, 5, 5],
        "label": "cat",
        "score": 0.9,
        "probabilities": {"cat": 0.5, "dog": 0.5},
    }
    report = push_predictions(
        database, project_id=project, actor="model:det", model_version="det-1",
        predictions=[{"item_id": "i0", "boxes": [sure, sure]}, {"item_id": "i1", "boxes": [torn]}],
    )  # fmt: skip
    assert report.batch == ("i1",)


def test_a_bad_box_push_names_entry_box_and_field_and_writes_nothing(database, tmp_path):
    project = box_project(database, tmp_path)
    _images(database, tmp_path, project, 2)
    for entry, field in [
        ({"item_id": "i0", "boxes": [{"bbox": [0, 0, 65, 5], "label": "cat", "score": 1}]},
         "predictions.1.boxes.0.bbox"),
        ({"item_id": "i0", "boxes": [{"bbox": [0, 0, 5, 5], "label": "cat", "score": 1.5}]},
         "predictions.1.boxes.0.score"),
        ({"item_id": "i0", "boxes": [{"bbox": [0, 0, 5, 5], "label": "cat"}]},
         "predictions.1.boxes.0.score"),
        ({"item_id": "i0", "boxes": [{"bbox": [0, 0, 5, 5], "label": "cow", "score": 1}]},
         "predictions.1.boxes.0.label"),
        ({"item_id": "i0", "boxes": [{"bbox": [0, 0, 5, 5], "label": "cat", "score": 1,
                                      "probabilities": [1.0]}]},
         "predictions.1.boxes.0.probabilities"),
        ({"item_id": "i0", "probabilities": {"cat": 1.0}}, "predictions.1.probabilities"),
        ({"item_id": "nope", "boxes": []}, "predictions.1.item_id"),
    ]:  # fmt: skip
        with pytest.raises(ValidationError) as raised:
            push_predictions(
                database, project_id=project, actor="model:det", model_version="det-1",
                predictions=[{"item_id": "i1", "boxes": []}, entry],
            )  # fmt: skip
        assert raised.value.field == field, entry
    with database.read() as session:
        assert session.execute(select(PredictionRow.id)).first() is None


def test_status_counts_boxes_and_a_box_budget(database, tmp_path):
    write_images(tmp_path, ["a.png", "b.png"])
    project = box_project(database, tmp_path, box_budget=3)
    import_items(
        database, actor="cli:test", project=project,
        records=[{"id": "a", "image": "a.png", "boxes": [CAT, DOG]},
                 {"id": "b", "image": "b.png"}],
    )  # fmt: skip
    status = project_status(database, project)
    assert status.n_boxes_labelled == 2 and status.label_counts == {"cat": 1, "dog": 1}
    assert not status.should_stop
    annotate.record_annotation(
        database, actor="ann", project=project, external_id="b", label=[CAT, CAT]
    )
    status = project_status(database, project)
    assert status.n_boxes_labelled == 4 and status.should_stop
    assert "box budget" in status.headline


def test_agreement_is_iou_matched_box_f1(database, tmp_path):
    write_images(tmp_path, ["a.png", "b.png"])
    project = box_project(database, tmp_path)
    import_items(
        database, actor="cli:test", project=project,
        records=[{"id": "a", "image": "a.png"}, {"id": "b", "image": "b.png"}],
    )  # fmt: skip
    near_cat = {"bbox": [3, 4, 21, 31], "label": "cat"}  # IoU with CAT well above 0.5
    far_dog = {"bbox": [40, 20, 60, 40], "label": "dog"}  # IoU with DOG below 0.5
    for actor, a_boxes, b_boxes in [
        ("ann", [CAT, DOG], []),
        ("bob", [near_cat, far_dog], []),
        ("cid", [{"bbox": [2, 3, 20, 30], "label": "dog"}], []),  # right place, wrong class
    ]:
        annotate.record_annotation(
            database, actor=actor, project=project, external_id="a", label=a_boxes
        )
        annotate.record_annotation(
            database, actor=actor, project=project, external_id="b", label=b_boxes
        )
    report = agreement_report(database, project)
    pairs = {tuple(p["annotators"]): p["box_f1"] for p in report["pairs"]}
    # ann-bob: 1 match of 2 + 2 boxes; ann-cid: none of 2 + 1; bob-cid: none of 2 + 1.
    assert pairs == {("ann", "bob"): 0.5, ("ann", "cid"): 0.0, ("bob", "cid"): 0.0}
    assert report["box_f1"] == pytest.approx(2 * 1 / (4 + 3 + 3), abs=1e-6)
    assert report["iou_threshold"] == 0.5
    by_name = {a["name"]: a["mean_box_f1"] for a in report["annotators"]}
    assert by_name == {"ann": 0.25, "bob": 0.25, "cid": 0.0}


@pytest.mark.parametrize(("fmt", "name"), [("coco", "coco.json"), ("label_studio", "tasks.json")])
def test_coco_and_label_studio_round_trip_through_projects(database, tmp_path, fmt, name):
    write_images(tmp_path, ["a.png", "b.png"])
    project = box_project(database, tmp_path)
    import_items(
        database, actor="cli:test", project=project,
        records=[
            {"id": "a", "image": "a.png", "boxes": [CAT, {"bbox": [0.5, 1.25, 9.75, 7.1],
                                                       "label": "dog"}], "meta": {"site": "n"}},
            {"id": "b", "image": "b.png", "boxes": []},
            {"id": "c", "image": "gone.png", "width": 640, "height": 480},
        ],
    )  # fmt: skip
    push_predictions(
        database, project_id=project, actor="model:det", model_version="det-7",
        predictions=[{"item_id": "c", "boxes": _boxes(0.3)}],
    )  # fmt: skip
    out = tmp_path / name
    export_items(database, project=project, format=fmt, out=out)
    if fmt == "label_studio":
        tasks = json.loads(out.read_text())
        [predicted] = [t for t in tasks if t["data"]["id"] == "c"][0]["predictions"]
        assert predicted["model_version"] == "det-7"
        assert predicted["score"] == pytest.approx(0.7)
        assert predicted["result"][0]["score"] == 0.3
        assert predicted["result"][0]["type"] == "rectanglelabels"
    again = box_project(database, tmp_path, name="again")
    report = import_items(database, actor="cli:test", project=again, path=out)
    assert report.format == fmt and report.n_imported == 3
    assert _final_labels(database, again) == _final_labels(database, project)
    assert _payloads(database, again) == _payloads(database, project)


def test_a_bad_coco_file_imports_nothing(database, tmp_path):
    write_images(tmp_path, ["a.png"])
    project = box_project(database, tmp_path)
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 64, "height": 48},
            {"id": 2, "file_name": "b.png", "width": 64, "height": 48},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [60, 1, 5, 5]},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, path=path)
    assert raised.value.field == "boxes.0.bbox" and f"{path}:2" in str(raised.value)
    document["categories"][1]["name"] = "bird"
    document["annotations"][1]["bbox"] = [1, 1, 5, 5]
    path.write_text(json.dumps(document))
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, path=path)
    assert raised.value.field == "boxes.0.label"
    assert _final_labels(database, project) == {}
    create_project(
        database, actor="cli:test", name="texts", task_type="classification", labels=["a", "b"]
    )
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project="texts", path=path, format="coco")
    assert "it is for boxes" in str(raised.value)


def test_the_whole_loop_of_a_box_project(database, tmp_path):
    """Import, push, queue order, annotate (two annotators each), review, agreement,
    round, export and import again."""
    write_images(tmp_path / "imgs", [f"{i}.png" for i in range(4)])
    project = box_project(database, tmp_path, overlap=2, review_policy="annotators_disagree")
    import_items(database, actor="cli:test", project=project, path=tmp_path / "imgs")
    report = push_predictions(
        database, project_id=project, actor="model:det", model_version="det-1",
        predictions=[
            {"item_id": "0.png", "boxes": _boxes(0.99)},
            {"item_id": "1.png", "boxes": _boxes(0.1, 0.9)},
            {"item_id": "2.png", "boxes": _boxes(0.6)},
            {"item_id": "3.png", "boxes": []},
        ],
    )  # fmt: skip
    assert report.n_boxes == 4
    assert _queue(database, project) == ["1.png", "2.png", "0.png", "3.png"]
    ann, bob = make_user(database, "ann"), make_user(database, "bob")
    drawn = {"1.png": [CAT, DOG], "2.png": [CAT], "0.png": [DOG], "3.png": []}
    for user, shift in ((ann, 0.0), (bob, 1.0)):
        for _ in range(4):
            task = queue.lease_next_task(database, project_id=project, user=user)
            boxes = [
                {"bbox": [b["bbox"][0] + shift, *b["bbox"][1:]], "label": b["label"]}
                for b in drawn[task.item.external_id]
            ]
            if user is bob and task.item.external_id == "2.png":
                boxes = [{**CAT, "label": "dog"}]  # bob names the class wrong once
            annotate.submit_annotation(database, task_id=task.id, user=user, label=boxes)
    # Boxes a pixel apart are the same boxes, fused; the wrong class is a disagreement,
    # and only that image goes to review, where the reviewer settles it.
    rev = make_user(database, "rev", role="reviewer")
    reviewed = set()
    while leased := review.lease_next_review(database, project_id=project, user=rev):
        name = leased.item.external_id
        reviewed.add(name)
        review.submit_review(
            database, review_task_id=leased.id, user=rev, verdict="correct", label=drawn[name]
        )
    assert reviewed == {"2.png"}  # both drew nothing on 3.png: agreed
    assert _final_labels(database, project)["0.png"] == [
        {"bbox": [30.5, 5.0, 60.0, 40.0], "label": "dog"}
    ]
    report = agreement_report(database, project)
    # Boxes a pixel apart match (IoU well above 0.5); the wrong class does not.
    assert report["box_f1"] == pytest.approx(2 * 3 / (4 + 4), abs=1e-6)
    info = train(database, actor="cli:test", project=project)
    assert info.metrics["trained"] is False and info.metrics["n_boxes_labelled"] >= 1
    out = tmp_path / "out.json"
    export_items(database, project=project, format="coco", out=out)
    again = box_project(database, tmp_path, name="again")
    import_items(database, actor="cli:test", project=again, path=out)
    assert _final_labels(database, again) == _final_labels(database, project)
    assert _final_labels(database, project)["2.png"] == [CAT]


def test_model_disagrees_compares_boxes_by_iou(database, tmp_path):
    project = box_project(database, tmp_path, review_policy="model_disagrees")
    _images(database, tmp_path, project, 2)
    push_predictions(
        database, project_id=project, actor="model:det", model_version="det-1",
        predictions=[
            {"item_id": "i0", "boxes": [{**CAT, "score": 0.9}, {**DOG, "score": 0.2}]},
            {"item_id": "i1", "boxes": [{**CAT, "score": 0.9}]},
        ],
    )  # fmt: skip
    near = {"bbox": [3, 3, 21, 30], "label": "cat"}  # a pixel off the detector's sure box
    same = annotate.record_annotation(
        database, actor="ann", project=project, external_id="i0", label=[near]
    )
    assert same.item_status == "annotated"  # the unsure dog box does not count
    other = annotate.record_annotation(
        database, actor="ann", project=project, external_id="i1", label=[{**near, "label": "dog"}]
    )
    assert other.item_status == "in_review"


def _fused_status(db, project, external_id):
    with db.read() as session:
        item = session.execute(
            select(ItemRow).where(ItemRow.project_id == project, ItemRow.external_id == external_id)
        ).scalar_one()
        return item.status, item.final_label


def _shifted(box, dx=0.0, dy=0.0, label=None):
    x1, y1, x2, y2 = box["bbox"]
    return {"bbox": [x1 + dx, y1 + dy, x2 + dx, y2 + dy], "label": label or box["label"]}


def test_two_annotators_boxes_a_little_apart_fuse_into_the_final_label(database, tmp_path):
    project = box_project(database, tmp_path, overlap=2)
    _images(database, tmp_path, project, 1)
    annotate.record_annotation(
        database, actor="ann", project=project, external_id="i0", label=[CAT, DOG]
    )
    assert _fused_status(database, project, "i0") == ("open", None)
    # bob lists them the other way round, each box a pixel or two off
    info = annotate.record_annotation(
        database, actor="bob", project=project, external_id="i0",
        label=[_shifted(DOG, 2, 1), _shifted(CAT, 1, 0)],
    )  # fmt: skip
    assert info.item_status == "annotated"
    status, final = _fused_status(database, project, "i0")
    assert status == "annotated"
    assert final == [
        {"bbox": [2.5, 3.0, 20.5, 30.0], "label": "cat"},
        {"bbox": [31.0, 5.5, 61.0, 40.5], "label": "dog"},
    ]


def test_boxes_the_annotators_do_not_share_go_to_review_named(database, tmp_path):
    project = box_project(database, tmp_path, overlap=2)
    _images(database, tmp_path, project, 2)
    annotate.record_annotation(
        database, actor="ann", project=project, external_id="i0", label=[CAT, DOG]
    )
    info = annotate.record_annotation(
        database, actor="bob", project=project, external_id="i0", label=[CAT]
    )
    assert info.item_status == "in_review"
    # same place, other class: no match either
    annotate.record_annotation(
        database, actor="ann", project=project, external_id="i1", label=[CAT]
    )
    annotate.record_annotation(
        database, actor="bob", project=project, external_id="i1", label=[{**CAT, "label": "dog"}]
    )
    assert _fused_status(database, project, "i0") == ("in_review", None)
    rev = make_user(database, "rev", role="reviewer")
    first = review.lease_next_review(database, project_id=project, user=rev)
    assert first.item.external_id == "i0" and first.reason == "boxes_disagree"
    assert first.disagreement == ("ann's box 1 (dog [30, 5, 60, 40]), drawn by 1 annotator(s)",)
    review.submit_review(
        database, review_task_id=first.id, user=rev, verdict="correct", label=[CAT, DOG]
    )
    second = review.lease_next_review(database, project_id=project, user=rev)
    assert second.item.external_id == "i1"
    assert [line.split(" (")[0] for line in second.disagreement] == ["ann's box 0", "bob's box 0"]
    assert _fused_status(database, project, "i0") == ("accepted", [CAT, DOG])


def test_a_majority_of_three_annotators_decides_each_box(database, tmp_path):
    project = box_project(database, tmp_path, overlap=3, box_consensus_share=0.6)
    _images(database, tmp_path, project, 2)
    # i0: all three draw the cat, ann alone adds a dog: the dog is outvoted 2 to 1
    for actor, boxes in (
        ("ann", [CAT, DOG]), ("bob", [_shifted(CAT, 1)]), ("cy", [_shifted(CAT, 2)]),
    ):  # fmt: skip
        annotate.record_annotation(
            database, actor=actor, project=project, external_id="i0", label=boxes
        )
    assert _fused_status(database, project, "i0") == (
        "annotated", [{"bbox": [3.0, 3.0, 21.0, 30.0], "label": "cat"}],
    )  # fmt: skip
    # i1: two of three draw the dog: it stays; the median of the three cats
    update_settings(database, actor="cli:test", project=project, changes={"box_fuse": "median"})
    for actor, boxes in (
        ("ann", [CAT, DOG]), ("bob", [_shifted(CAT, 1), DOG]), ("cy", [_shifted(CAT, 4)]),
    ):  # fmt: skip
        annotate.record_annotation(
            database, actor=actor, project=project, external_id="i1", label=boxes
        )
    status, final = _fused_status(database, project, "i1")
    assert status == "annotated"
    assert final == [{"bbox": [3.0, 3.0, 21.0, 30.0], "label": "cat"}, DOG_FLOAT]


DOG_FLOAT = {"bbox": [30.0, 5.0, 60.0, 40.0], "label": "dog"}


def test_every_annotator_is_the_default_and_the_threshold_is_a_setting(database, tmp_path):
    project = box_project(database, tmp_path, overlap=3)
    _images(database, tmp_path, project, 1)
    for actor, boxes in (("ann", [CAT, DOG]), ("bob", [CAT, DOG]), ("cy", [CAT])):
        annotate.record_annotation(
            database, actor=actor, project=project, external_id="i0", label=boxes
        )
    assert _fused_status(database, project, "i0") == ("in_review", None)
    with pytest.raises(ValidationError) as raised:
        update_settings(
            database, actor="cli:test", project=project, changes={"box_consensus_share": 0.5}
        )
    assert raised.value.field == "box_consensus_share"
    # far apart boxes (IoU about 0.33) match only under a lower threshold
    other = box_project(database, tmp_path, name="loose", overlap=2, box_consensus_iou=0.3)
    _images(database, tmp_path, other, 1)
    annotate.record_annotation(database, actor="ann", project=other, external_id="i0", label=[CAT])
    annotate.record_annotation(
        database, actor="bob", project=other, external_id="i0", label=[_shifted(CAT, 9)]
    )
    assert _fused_status(database, other, "i0")[0] == "annotated"


@pytest.mark.parametrize("out", ["ds", "boxes.parquet"])
def test_a_hugging_face_export_imports_again_as_it_is(database, tmp_path, out):
    project = box_project(database, tmp_path)
    _images(database, tmp_path, project, 3)
    annotate.record_annotation(
        database, actor="ann", project=project, external_id="i0", label=[CAT, DOG]
    )
    annotate.record_annotation(database, actor="ann", project=project, external_id="i1", label=[])
    report = export_items(database, project=project, format="hf", out=tmp_path / out)
    assert report.n_records == 3
    again = box_project(database, tmp_path, name="again")
    imported = import_items(
        database, actor="cli:test", project=again, path=tmp_path / out, format="hf"
    )
    assert imported.n_imported == 3 and imported.n_labelled == 2
    assert _final_labels(database, again) == _final_labels(database, project)
    assert _payloads(database, again) == _payloads(database, project)


def test_a_bad_hugging_face_box_dataset_imports_nothing(database, tmp_path):
    import datasets

    write_images(tmp_path, ["0.png", "1.png"])
    project = box_project(database, tmp_path)
    objects = [
        {"bbox": [[2.0, 3.0, 20.0, 30.0]], "label": ["cat"]},
        {"bbox": [[2.0, 3.0, 20.0, 300.0]], "label": ["cat"]},  # below the 48 px image
    ]
    data = {"id": ["a", "b"], "image": ["0.png", "1.png"], "objects": objects}
    datasets.Dataset.from_dict(data).save_to_disk(str(tmp_path / "ds"))
    with pytest.raises((ImportDataError, ValidationError)) as raised:
        import_items(database, actor="cli:test", project=project, path=tmp_path / "ds")
    assert "line 2" in str(raised.value) or getattr(raised.value, "line", None) == 2
    assert "boxes.0.bbox" in str(raised.value) or raised.value.field == "boxes.0.bbox"
    assert _final_labels(database, project) == {}


def _coco_layout_dataset(path, objects):
    import datasets

    classes = datasets.ClassLabel(names=["cat", "dog"])
    features = datasets.Features({
        "id": datasets.Value("string"), "image": datasets.Value("string"),
        "objects": {"bbox": datasets.List(datasets.List(datasets.Value("float64"))),
                    "category": datasets.List(classes)},
    })  # fmt: skip
    data = {"id": [f"i{n}" for n in range(len(objects))],
            "image": [f"{n}.png" for n in range(len(objects))], "objects": objects}  # fmt: skip
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(path))


def test_a_coco_layout_hugging_face_set_imports_with_bbox_format_xywh(database, tmp_path):
    write_images(tmp_path, ["0.png", "1.png"])
    project = box_project(database, tmp_path)
    _coco_layout_dataset(
        tmp_path / "ds",
        [{"bbox": [[2.0, 3.0, 18.0, 27.0]], "category": [0]},
         {"bbox": [[30.0, 5.0, 30.0, 35.0], [2.0, 3.0, 18.0, 27.0]], "category": [1, 0]}],
    )  # fmt: skip
    # Read as corners the same numbers are a box below the 48 px image: refused, named.
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, path=tmp_path / "ds")
    assert raised.value.line == 2 and raised.value.field == "objects.bbox.0"
    assert "bbox_format xywh" in str(raised.value)
    report = import_items(
        database, actor="cli:test", project=project, path=tmp_path / "ds", bbox_format="xywh"
    )
    assert report.n_imported == 2 and report.n_labelled == 2
    assert _final_labels(database, project) == {"i0": [CAT], "i1": [CAT, DOG]}
    # Out in COCO's layout and in again, and out in corners: the same labels.
    export_items(database, project=project, format="hf", out=tmp_path / "out", bbox_format="xywh")
    again = box_project(database, tmp_path, name="again")
    import_items(database, actor="cli:test", project=again, path=tmp_path / "out",
                 bbox_format="xywh")  # fmt: skip
    assert _final_labels(database, again) == _final_labels(database, project)


def test_a_bad_coco_layout_row_imports_nothing(database, tmp_path):
    write_images(tmp_path, ["0.png", "1.png"])
    project = box_project(database, tmp_path)
    _coco_layout_dataset(
        tmp_path / "ds",
        [{"bbox": [[2.0, 3.0, 18.0, 27.0]], "category": [0]},
         {"bbox": [[2.0, 3.0, 18.0, -1.0]], "category": [0]}],
    )  # fmt: skip
    with pytest.raises(ImportDataError) as raised:
        import_items(database, actor="cli:test", project=project, path=tmp_path / "ds",
                     bbox_format="xywh")  # fmt: skip
    assert (raised.value.line, raised.value.field) == (2, "objects.bbox.0")
    assert "negative" in str(raised.value)
    assert _final_labels(database, project) == {}


def test_box_records_in_xywh_and_where_bbox_format_has_no_meaning(database, tmp_path):
    write_images(tmp_path, ["0.png"])
    project = box_project(database, tmp_path)
    records = [{"id": "i0", "image": "0.png", "boxes": [{"bbox": [2, 3, 18, 27], "label": "cat"}]}]
    for bad_format in ("cxcywh", "XYWH"):
        with pytest.raises(ValidationError) as raised:
            import_items(database, actor="cli:test", project=project, records=records,
                         bbox_format=bad_format)  # fmt: skip
        assert raised.value.field == "bbox_format"
    import_items(database, actor="cli:test", project=project, records=records, bbox_format="xywh")
    assert _final_labels(database, project) == {"i0": [CAT]}
    (tmp_path / "boxes.jsonl").write_text(json.dumps({**records[0], "id": "j0"}) + "\n")
    with pytest.raises(ValidationError) as raised:
        import_items(database, actor="cli:test", project=project, path=tmp_path / "boxes.jsonl",
                     bbox_format="xywh")  # fmt: skip
    assert raised.value.field == "bbox_format" and "jsonl" in str(raised.value)
    with pytest.raises(ValidationError) as raised:
        export_items(database, project=project, format="jsonl", out=tmp_path / "x.jsonl",
                     bbox_format="xyxy")  # fmt: skip
    assert raised.value.field == "bbox_format"
    text = create_project(database, actor="cli:test", name="reviews",
                          task_type="classification", labels=["a", "b"]).id  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        import_items(database, actor="cli:test", project=text, records=[{"id": "1", "text": "x"}],
                     bbox_format="xywh")  # fmt: skip
    assert raised.value.field == "bbox_format"
    assert _final_labels(database, text) == {}
