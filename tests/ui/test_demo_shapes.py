"""``labelloop demo --dataset shapes`` builds a box project: generated images, labelled
evaluation set and seeds, a detector's boxes pushed as suggestions, a reviewed day."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.demo import DEMO_USERS, SHAPE_CLASSES, noisy_detections, shape_image
from labelloop.engine import browse, projects
from labelloop.store.db import Database


def test_shape_images_and_their_boxes_agree() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        image, boxes = shape_image(rng)
        pixels = np.asarray(image.convert("L"), dtype=int)
        background = pixels[0, 0] if not boxes else None
        for box in boxes:
            x1, y1, x2, y2 = box["bbox"]
            assert box["label"] in SHAPE_CLASSES
            assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height
            # Ink inside the box, differing from the image's corner (the background).
            inside = pixels[y1 : y2 + 1, x1 : x2 + 1]
            assert (inside != pixels[0, 0]).any()
        if background is not None:
            assert (pixels == background).all()
        for found in noisy_detections(boxes, rng):
            x1, y1, x2, y2 = found["bbox"]
            assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height
            assert 0 < found["score"] < 1 and found["label"] in SHAPE_CLASSES


def test_demo_command_builds_the_shapes_box_project(tmp_path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--dir", str(tmp_path), "--dataset", "shapes", "--n-items", "200", "--no-serve"],
    )
    assert result.exit_code == 0, result.output
    assert "detector's boxes are pushed" in result.output
    for name, _role, password in DEMO_USERS:
        assert f"name {name}  password {password}" in result.output
    db = Database(f"sqlite:///{tmp_path / 'labelloop.db'}")
    try:
        info = projects.get_project_info(db, "shapes")
        assert (info.task_type, info.n_items) == ("boxes", 200)
        assert tuple(info.labels) == SHAPE_CLASSES
        # The evaluation set, the seeds, and the annotator's two reviewed images.
        assert info.n_labelled == 150 + 16 + 2
        assert info.settings["review_policy"] == "percent"
        team = {a.name: a for a in browse.annotator_throughput(db, info.id)}
        assert (team["annotator"].rejected, team["annotator"].corrected) == (0, 1)
        items = browse.search_items(db, info.id, limit=200).items
        labelled = [i for i in items if i.final_label is not None]
        assert all(isinstance(i.final_label, list) for i in labelled)
        # Every unlabelled image has the detector's boxes, shown as suggestions.
        open_items = [i for i in items if i.final_label is None]
        for item in open_items[:10]:
            guess = browse.model_guess(db, project_id=info.id, item_id=item.id)
            assert guess is not None and isinstance(guess.structure, list)
            for box in guess.structure:
                assert set(box) >= {"bbox", "label", "score"}
    finally:
        db.dispose()
    files = sorted((tmp_path / "media" / "shapes").glob("*.png"))
    assert len(files) == 200
    assert Image.open(files[0]).size == (160, 120)
