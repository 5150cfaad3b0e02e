"""A box project through the REST API: create, import images, push a detector's boxes,
label and review with ``boxes``, the model's boxes as its guess, agreement, status."""

from __future__ import annotations

import numpy as np
from PIL import Image
from sqlalchemy import select

from labelloop.engine.users import add_member
from labelloop.store.tables import ItemRow

API = "/api/v1"
CAT = {"bbox": [2.0, 3.0, 20.0, 30.0], "label": "cat"}
DOG = {"bbox": [30.0, 5.0, 60.0, 40.0], "label": "dog"}


def _box_project(world, **settings) -> int:
    for i in range(3):
        pixels = np.full((48, 64, 3), 40 * i, dtype=np.uint8)
        Image.fromarray(pixels).save(world.media_root / f"{i}.png")
    created = world.call(
        "admin",
        "POST",
        f"{API}/projects",
        json={
            "name": "shapes",
            "task_type": "boxes",
            "labels": ["cat", "dog"],
            "settings": {
                "eval_share": 0, "eval_min": 0, "eval_min_labels": 0, "retrain_every": 0,
                "batch_size": 1, "media_root": str(world.media_root), **settings,
            },
        },
    )  # fmt: skip
    assert created.status_code == 201, created.text
    project = created.json()["id"]
    for who in ("annotator", "reviewer", "model"):
        add_member(world.db, actor="cli:test", project=project, user=who)
    imported = world.call(
        "admin",
        "POST",
        f"{API}/projects/{project}/items",
        json={"records": [{"id": f"i{i}", "image": f"{i}.png"} for i in range(3)]},
    )
    assert imported.status_code in (200, 201), imported.text
    return project


def test_pushed_boxes_order_the_queue_and_boxes_are_labelled(world) -> None:
    project = _box_project(world, review_policy="all")
    push = world.call(
        "model",
        "POST",
        f"{API}/projects/{project}/predictions",
        json={
            "model_version": "det-1",
            "predictions": [
                {"item_id": "i0", "boxes": [{**CAT, "score": 0.95}]},
                {"item_id": "i1", "boxes": [{**DOG, "score": 0.2, "probabilities": [0.4, 0.6]}]},
                {"item_id": "i2", "boxes": []},
            ],
        },
    )
    assert push.status_code == 200, push.text
    assert push.json()["batch"] == ["i1"] and push.json()["n_boxes"] == 2
    bad = world.call(
        "model",
        "POST",
        f"{API}/projects/{project}/predictions",
        json={"model_version": "det-1", "predictions": [
            {"item_id": "i0", "boxes": [{"bbox": [0, 0, 70, 5], "label": "cat", "score": 1}]}]},
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "predictions.0.boxes.0.bbox"
    for box, field in [
        ("a box", "predictions.0.boxes.0"),
        ({"bbox": [0, 0, 5, 5], "label": "cat", "score": "high"}, "predictions.0.boxes.0.score"),
        ({"bbox": [0, 0, 5, True], "label": "cat", "score": 1}, "predictions.0.boxes.0.bbox"),
    ]:
        wrong = world.call(
            "model",
            "POST",
            f"{API}/projects/{project}/predictions",
            json={"model_version": "det-1", "predictions": [{"item_id": "i0", "boxes": [box]}]},
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == field, wrong.text
    task = world.call("annotator", "POST", f"{API}/projects/{project}/tasks/next").json()
    assert task["item"]["external_id"] == "i1"
    assert task["item"]["payload"] == {"path": "1.png", "width": 64, "height": 48}
    image = world.call("annotator", "GET", task["item"]["media_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    guess = world.call("annotator", "GET", f"{API}/projects/{project}/items/i1/guess")
    if guess.status_code == 200:
        assert guess.json()["structure"][0]["bbox"] == DOG["bbox"]
    url = f"{API}/tasks/{task['id']}/annotations"
    outside = world.call(
        "annotator", "POST", url, json={"boxes": [{"bbox": [0, 0, 10, 49], "label": "dog"}]}
    )
    assert outside.status_code == 422 and outside.json()["field"] == "label.0.bbox"
    flipped = world.call(
        "annotator", "POST", url, json={"boxes": [{"bbox": [9, 0, 1, 5], "label": "dog"}]}
    )
    assert flipped.status_code == 422 and flipped.json()["field"] == "label.0.bbox"
    done = world.call("annotator", "POST", url, json={"boxes": [DOG, CAT]})
    assert done.status_code == 201, done.text
    assert done.json()["final_label"] == [CAT, DOG]
    leased = world.call("reviewer", "POST", f"{API}/projects/{project}/reviews/next")
    assert leased.status_code == 200, leased.text
    corrected = world.call(
        "reviewer",
        "POST",
        f"{API}/reviews/{leased.json()['id']}",
        json={"verdict": "correct", "boxes": [DOG]},
    )
    assert corrected.status_code in (200, 201), corrected.text
    assert corrected.json()["final_label"] == [DOG]
    status = world.call("admin", "GET", f"{API}/projects/{project}/status").json()
    assert status["n_boxes_labelled"] == 1 and status["label_counts"] == {"cat": 0, "dog": 1}
    agreement = world.call("admin", "GET", f"{API}/projects/{project}/metrics/agreement")
    assert agreement.status_code == 200, agreement.text
    assert agreement.json()["iou_threshold"] == 0.5


def test_two_annotators_boxes_fuse_or_go_to_review_named(world) -> None:
    from labelloop.engine import users

    project = _box_project(world, overlap=2)
    _, token = users.create_user(
        world.db, actor="cli:test", name="second", role="annotator", projects=[project]
    )
    world.tokens["second"] = token
    changed = world.call(
        "admin", "PATCH", f"{API}/projects/{project}/settings", json={"box_consensus_share": 0.4}
    )
    assert changed.status_code == 422 and changed.json()["field"] == "box_consensus_share"
    jitter = {"bbox": [3.0, 4.0, 21.0, 30.0], "label": "cat"}
    drawn = {
        "annotator": {"i0": [CAT], "i1": [CAT, DOG], "i2": []},
        "second": {"i0": [jitter], "i1": [CAT], "i2": []},
    }
    finals = {}
    for who in ("annotator", "second"):
        for _ in range(3):
            task = world.call(who, "POST", f"{API}/projects/{project}/tasks/next").json()
            name = task["item"]["external_id"]
            done = world.call(
                who,
                "POST",
                f"{API}/tasks/{task['id']}/annotations",
                json={"boxes": drawn[who][name]},
            )
            assert done.status_code == 201, done.text
            finals[name] = (done.json()["item_status"], done.json()["final_label"])
    assert finals["i0"] == ("annotated", [{"bbox": [2.5, 3.5, 20.5, 30.0], "label": "cat"}])
    assert finals["i1"] == ("in_review", None)
    assert finals["i2"] == ("annotated", [])
    leased = world.call("reviewer", "POST", f"{API}/projects/{project}/reviews/next")
    assert leased.status_code == 200, leased.text
    body = leased.json()
    assert body["item"]["external_id"] == "i1" and body["reason"] == "boxes_disagree"
    assert body["disagreement"] == [
        "annotator's box 1 (dog [30, 5, 60, 40]), drawn by 1 annotator(s)"
    ]


def test_box_records_in_coco_layout_import_with_bbox_format(world) -> None:
    project = _box_project(world)
    url = f"{API}/projects/{project}/items"
    Image.fromarray(np.full((48, 64, 3), 200, dtype=np.uint8)).save(world.media_root / "x.png")
    records = [{"id": "x0", "image": "x.png", "boxes": [{"bbox": [2, 3, 18, 27], "label": "cat"}]}]
    bad = world.call("admin", "POST", url, json={"records": records, "bbox_format": "cxcywh"})
    assert bad.status_code == 422 and "bbox_format" in bad.text
    negative = [{**records[0], "boxes": [{"bbox": [2, 3, -1, 27], "label": "cat"}]}]
    refused = world.call("admin", "POST", url, json={"records": negative, "bbox_format": "xywh"})
    assert refused.status_code == 422, refused.text
    assert (
        refused.json()["field"] == "records.0.boxes.0.bbox"
        and "negative" in refused.json()["detail"]
    )
    imported = world.call("admin", "POST", url, json={"records": records, "bbox_format": "xywh"})
    assert imported.status_code == 201, imported.text
    with world.db.read() as session:
        final = session.execute(
            select(ItemRow.final_label).where(
                ItemRow.project_id == project, ItemRow.external_id == "x0"
            )
        ).scalar_one()
    assert final == [CAT]
    sentiment = world.call(
        "admin",
        "POST",
        f"{API}/projects/{world.project_id}/items",
        json={"records": [{"id": "t", "text": "fine"}], "bbox_format": "xywh"},
    )
    assert sentiment.status_code == 422 and sentiment.json()["field"] == "bbox_format"
