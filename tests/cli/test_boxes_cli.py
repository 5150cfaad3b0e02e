"""A box project from the command line on a real SQLite file: create, import images and
COCO, push a detector's boxes, query, status, agreement, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from labelloop.cli import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db])

    assert invoke("init").exit_code == 0
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 60, 3), 50 * i, dtype=np.uint8)).save(images / f"{i}.png")
    return invoke


def test_a_box_project_round_trip_on_the_command_line(run, tmp_path):
    created = run(
        "project", "create", "det", "--task", "boxes", "--labels", "cat,dog",
        "--set", "eval_share=0", "--set", "eval_min=0", "--set", "batch_size=1",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    imported = run("import", "det", "imgs")
    assert imported.exit_code == 0, imported.output
    pushed = [
        {"item_id": "0.png", "boxes": [{"bbox": [1, 1, 9, 9], "label": "cat", "score": 0.9}]},
        {"item_id": "1.png", "boxes": [{"bbox": [1, 1, 9, 9], "label": "dog", "score": 0.2}]},
        {"item_id": "2.png", "boxes": []},
    ]
    (tmp_path / "pushed.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pushed))
    result = run("push", "det", "pushed.jsonl", "--model-version", "det-1")
    assert result.exit_code == 0, result.output
    assert "pushed 3 predictions (2 boxes, 1 unsure)" in result.stdout
    query = run("query", "det", "-n", "1")
    assert "1.png" in query.stdout
    bad = [{"item_id": "0.png", "boxes": [{"bbox": [1, 1, 99, 9], "label": "cat", "score": 1}]}]
    (tmp_path / "bad.jsonl").write_text(json.dumps(bad[0]) + "\n")
    refused = run("push", "det", "bad.jsonl", "--model-version", "det-1")
    assert refused.exit_code != 0
    assert "bad.jsonl:1" in refused.output and "boxes.0.bbox" in refused.output
    trained = run("train", "det")
    assert trained.exit_code == 0, trained.output
    coco = {
        "images": [{"id": 1, "file_name": "imgs/0.png", "external_id": "0.png"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    (tmp_path / "truth.json").write_text(json.dumps(coco))
    assert run("project", "create", "truth", "--task", "boxes", "--labels", "cat").exit_code == 0
    imported = run("import", "truth", "truth.json", "--format", "coco")
    assert imported.exit_code == 0, imported.output
    status = run("status", "truth")
    assert "boxes labelled: 1" in status.stdout, status.stdout
    exported = run("export", "truth", "--format", "coco", "--out", "out.json")
    assert exported.exit_code == 0, exported.output
    document = json.loads((tmp_path / "out.json").read_text())
    assert [a["bbox"] for a in document["annotations"]] == [[2.0, 2.0, 10.0, 10.0]]
    assert document["images"][0]["width"] == 60
    annotators = run("annotators", "truth")
    assert annotators.exit_code == 0, annotators.output
    assert "box F1" in annotators.stdout


def test_hugging_face_boxes_out_and_in_on_the_command_line(run, tmp_path):
    assert run("project", "create", "det", "--task", "boxes", "--labels", "cat,dog").exit_code == 0
    rows = [
        {"id": "a", "image": "imgs/0.png", "boxes": [{"bbox": [1, 2, 30, 20], "label": "dog"}]},
        {"id": "b", "image": "imgs/1.png", "boxes": []},
        {"id": "c", "image": "imgs/2.png"},
    ]
    (tmp_path / "boxes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run("import", "det", "boxes.jsonl").exit_code == 0
    exported = run("export", "det", "--format", "hf", "--out", "det-hf")
    assert exported.exit_code == 0, exported.output
    assert run("project", "create", "copy", "--task", "boxes", "--labels", "cat,dog").exit_code == 0
    imported = run("import", "copy", "det-hf")  # auto: a saved dataset
    assert imported.exit_code == 0, imported.output
    again = run("export", "copy", "--format", "jsonl", "--out", "copy.jsonl")
    assert again.exit_code == 0, again.output
    records = [json.loads(line) for line in (tmp_path / "copy.jsonl").read_text().splitlines()]
    assert {r["id"]: r.get("boxes") for r in records} == {
        "a": [{"bbox": [1.0, 2.0, 30.0, 20.0], "label": "dog"}],
        "b": [],
        "c": None,
    }
    assert {r["id"]: r["image"] for r in records} == {
        "a": "imgs/0.png", "b": "imgs/1.png", "c": "imgs/2.png"
    }  # fmt: skip


def test_coco_layout_hugging_face_boxes_with_bbox_format_on_the_command_line(run, tmp_path):
    import datasets

    assert run("project", "create", "det", "--task", "boxes", "--labels", "cat,dog").exit_code == 0
    rows = [
        {"id": "a", "image": "imgs/0.png", "boxes": [{"bbox": [1, 2, 30, 20], "label": "dog"}]},
        {"id": "b", "image": "imgs/1.png", "boxes": []},
    ]
    (tmp_path / "boxes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run("import", "det", "boxes.jsonl").exit_code == 0
    exported = run("export", "det", "--format", "hf", "--bbox-format", "xywh", "--out", "coco-hf")
    assert exported.exit_code == 0, exported.output
    written = datasets.load_from_disk(str(tmp_path / "coco-hf"))
    assert written[0]["objects"] == {"bbox": [[1.0, 2.0, 29.0, 18.0]], "category": [1]}
    assert run("project", "create", "copy", "--task", "boxes", "--labels", "cat,dog").exit_code == 0
    # Read as corners, [1, 2, 29, 18] would be a box: it is the explicit choice that counts.
    imported = run("import", "copy", "coco-hf", "--bbox-format", "xywh")
    assert imported.exit_code == 0, imported.output
    again = run("export", "copy", "--format", "jsonl", "--out", "copy.jsonl")
    assert again.exit_code == 0, again.output
    records = [json.loads(line) for line in (tmp_path / "copy.jsonl").read_text().splitlines()]
    assert {r["id"]: r.get("boxes") for r in records} == {
        "a": [{"bbox": [1.0, 2.0, 30.0, 20.0], "label": "dog"}],
        "b": [],
    }
    wrong = run("import", "copy", "boxes.jsonl", "--bbox-format", "xywh")
    assert wrong.exit_code != 0 and "bbox_format" in wrong.output
    unknown = run("export", "det", "--format", "hf", "--bbox-format", "cxcywh", "--out", "x-hf")
    assert unknown.exit_code != 0 and "cxcywh" in unknown.output
    assert not (tmp_path / "x-hf").exists()
