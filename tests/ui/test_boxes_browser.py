"""Boxes on images, in headless Chromium against a real ``labelloop serve``: boxes drawn,
moved and resized by mouse, nudged and resized by keys, labelled with number keys, stepped
through with Tab and deleted; the model's boxes taken as suggestions; boxes stored in image
pixels also when the image is zoomed and panned; a reviewer correcting an annotator's boxes;
the item page showing them. Each view is shot at 1280x720 and 768 px.

Each test works in a box project of its own.
"""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from labelloop.engine import annotate, ingest, predictions, projects, queue, review, users
from labelloop.store.tables import AnnotationRow, ItemRow

pytestmark = pytest.mark.browser

TEAM = ("admin", "annotator", "reviewer")
CLASSES = ["circle", "square", "triangle"]
WIDTH, HEIGHT = 200, 120
_NAMES = itertools.count(1)

# Where the image's pixels are on screen: `object-fit: contain` in the (zoomed) element.
_FRAME = """(selector) => {
  const img = document.querySelector(selector);
  const r = img.getBoundingClientRect(), w = img.naturalWidth, h = img.naturalHeight;
  const s = Math.min(r.width / w, r.height / h);
  return { left: r.left + (r.width - w * s) / 2, top: r.top + (r.height - h * s) / 2, scale: s };
}"""


def _images(folder, n: int) -> None:
    """``n`` 200x120 images with a dark square and a grey disc on white, as PNG files."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for i in range(n):
        pixels = np.full((HEIGHT, WIDTH), 245, dtype=np.uint8)
        pixels[20 + i : 60 + i, 20:80] = 40
        pixels[(xx - 140) ** 2 + (yy - 70) ** 2 < 25**2] = 120
        Image.fromarray(pixels, mode="L").save(folder / f"{i:03d}.png")


def _box_project(ui_server, tmp_path, *, n_items: int = 3, **settings) -> int:
    name = f"shapes-{next(_NAMES)}"
    folder = tmp_path / name
    _images(folder, n_items)
    project = projects.create_project(
        ui_server.db,
        actor="cli:test",
        name=name,
        task_type="boxes",
        labels=CLASSES,
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, **settings},
    )
    ingest.import_items(ui_server.db, actor="cli:test", project=project.id, path=folder)
    for user in TEAM:
        users.add_member(ui_server.db, actor="cli:test", project=project.id, user=user)
    return project.id


def _model_boxes(ui_server, project_id: int, boxes: list[dict]) -> None:
    """A client detector pushes the same boxes for every image of the project."""
    with ui_server.db.read() as session:
        names = session.execute(
            select(ItemRow.external_id).where(ItemRow.project_id == project_id)
        ).scalars()
        entries = [{"item_id": name, "boxes": boxes} for name in names]
    predictions.push_predictions(
        ui_server.db,
        project_id=project_id,
        actor="model:detector",
        model_version="det-1",
        predictions=entries,
    )


def _annotations(ui_server, project_id: int, page=None, count: int = 0) -> list[AnnotationRow]:
    """The project's annotations; with ``page``, once the page has sent ``count`` of them
    (the next image shows before the write of the last one is done)."""
    for _ in range(100):
        with ui_server.db.read() as session:
            found = list(
                session.execute(
                    select(AnnotationRow)
                    .where(AnnotationRow.project_id == project_id)
                    .order_by(AnnotationRow.id)
                ).scalars()
            )
        if page is None or len(found) >= count:
            return found
        page.wait_for_timeout(100)
    return found


def _open(page, ui_server, project_id: int) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(ui_server.url + f"/projects/{project_id}/label")
    expect(page.locator("#item img")).to_be_visible()
    page.wait_for_function("document.querySelector('#item img').complete")
    expect(page.locator("#item svg.box-layer")).to_be_attached()


def _screen(page, x: float, y: float, selector: str = "#item img") -> tuple[float, float]:
    frame = page.evaluate(_FRAME, selector)
    return frame["left"] + x * frame["scale"], frame["top"] + y * frame["scale"]


def _drag(page, start: tuple[float, float], end: tuple[float, float], selector="#item img"):
    """Drag with the mouse from one image pixel to another."""
    page.mouse.move(*_screen(page, *start, selector))
    page.mouse.down()
    page.mouse.move(*_screen(page, *end, selector), steps=6)
    page.mouse.up()


def _close(got, want, tolerance: float = 1.0) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(got, want, strict=True))


def _submit(page) -> None:
    shown = page.locator("#item-meta").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator("#item-meta")).not_to_have_text(shown)


def test_draw_move_resize_label_step_nudge_and_delete_boxes(
    login, ui_server, tmp_path, shoot_sizes
) -> None:
    project_id = _box_project(ui_server, tmp_path)
    page = login("annotator")
    _open(page, ui_server, project_id)
    boxes = page.locator("#item svg g.box")
    # The class buttons are the legend: each has its colour, the class of new boxes marked.
    expect(page.locator("#labels .label-button.box-class")).to_have_count(3)
    expect(page.locator(".label-button.box-current")).to_have_attribute("data-label", "circle")

    # A square drawn by dragging: stored in the image's pixels, the pane's scale undone.
    page.keyboard.press("2")
    expect(page.locator("#box-status")).to_contain_text("New boxes: square")
    _drag(page, (20, 20), (80, 60))
    expect(boxes).to_have_count(1)
    expect(boxes.first).to_have_attribute("data-label", "square")
    # A click on the bare image is no box; it lets go of the selection.
    page.mouse.click(*_screen(page, 150, 20))
    expect(boxes).to_have_count(1)
    expect(page.locator("#item svg g.box.selected")).to_have_count(0)
    # A second box, drawn from its bottom-right corner up: still stored as x1 < x2.
    page.keyboard.press("1")
    _drag(page, (165, 95), (115, 45))
    expect(boxes).to_have_count(2)
    shoot_sizes(page, "80-boxes-drawn")

    # Tab steps to the first box, a number key sets its class.
    page.keyboard.press("Tab")
    expect(page.locator("#item svg g.box.selected")).to_have_attribute("data-index", "0")
    page.keyboard.press("Tab")
    expect(page.locator("#item svg g.box.selected")).to_have_attribute("data-index", "1")
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#item svg g.box.selected")).to_have_attribute("data-index", "0")
    page.keyboard.press("3")
    expect(boxes.first).to_have_attribute("data-label", "triangle")
    page.keyboard.press("2")
    # Its body dragged moves it; its south-east handle dragged resizes it.
    _drag(page, (50, 40), (60, 45))
    _drag(page, (90, 65), (100, 75))
    # Arrows nudge it a pixel (Shift: ten), Alt+arrows move its right and bottom edges.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Alt+ArrowRight")
    page.keyboard.press("Alt+ArrowRight")
    page.keyboard.press("Alt+ArrowLeft")  # the box's, not the browser's "back"
    page.keyboard.press("Alt+ArrowUp")
    assert page.url.endswith(f"/projects/{project_id}/label")
    # A third box, deleted again.
    _drag(page, (5, 100), (15, 115))
    expect(boxes).to_have_count(3)
    page.keyboard.press("Delete")
    expect(boxes).to_have_count(2)
    shoot_sizes(page, "81-boxes-selected")
    _submit(page)

    stored = _annotations(ui_server, project_id, page, 1)
    assert len(stored) == 1
    square, circle = stored[0].label
    assert square["label"] == "square" and circle["label"] == "circle"
    # Drawn 20,20-80,60; moved by 10,5; resized by 10,10 at its corner; nudged by 1,10;
    # its right edge one out, its bottom edge one in.
    assert _close(square["bbox"], [31, 35, 102, 84]), square
    assert _close(circle["bbox"], [115, 45, 165, 95]), circle

    # The next image: Enter with no box says there is nothing in it (an empty list).
    _submit(page)
    assert _annotations(ui_server, project_id, page, 2)[1].label == []

    # The keys overlay lists the box keys.
    page.keyboard.press("?")
    overlay = page.locator("#keys-overlay")
    for words in ("draw a box", "select the next, the previous box", "resize the selected box"):
        expect(overlay).to_contain_text(words)
    page.keyboard.press("Escape")


def test_boxes_stay_in_image_pixels_when_zoomed_and_panned(login, ui_server, tmp_path) -> None:
    project_id = _box_project(ui_server, tmp_path, n_items=1)
    page = login("annotator")
    _open(page, ui_server, project_id)
    for _ in range(3):
        page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("195%")
    page.keyboard.press("ArrowLeft")  # nothing selected: the arrows pan
    page.keyboard.press("ArrowUp")
    page.wait_for_timeout(100)
    _drag(page, (60, 30), (110, 70))
    page.keyboard.press("ArrowRight")  # selected: the arrows nudge it, a pixel of the image
    expect(page.locator("#item svg g.box")).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#zoom-level")).to_have_text("fit")
    # Back at fit, the box is drawn where it was on the image.
    rect = page.locator("#item svg g.box rect").first.bounding_box()
    left, top = _screen(page, 61, 30)
    assert abs(rect["x"] - left) < 4 and abs(rect["y"] - top) < 4, (rect, left, top)
    _submit(page)
    (stored,) = _annotations(ui_server, project_id, page, 1)
    assert _close(stored.label[0]["bbox"], [61, 30, 111, 70]), stored.label


def test_the_models_boxes_are_suggestions_to_take_or_adjust(
    login, ui_server, tmp_path, shoot_sizes
) -> None:
    project_id = _box_project(ui_server, tmp_path, n_items=2)
    _model_boxes(
        ui_server,
        project_id,
        [
            {"bbox": [18, 22, 82, 61], "label": "square", "score": 0.91},
            {"bbox": [112, 44, 170, 97], "label": "circle", "score": 0.48},
        ],
    )
    page = login("annotator")
    _open(page, ui_server, project_id)
    suggestions = page.locator("#item svg g.box.suggestion")
    expect(suggestions).to_have_count(2)
    expect(page.locator("#item svg")).to_contain_text("square 91%")
    expect(page.locator("#box-status")).to_contain_text("2 suggestions")
    shoot_sizes(page, "82-boxes-suggestions")
    # The second suggestion, adjusted before it is taken: a class and a pixel to the left.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("3")
    page.keyboard.press("y")
    expect(suggestions).to_have_count(1)
    # A suggestion not taken is left out of the label.
    _submit(page)
    (first,) = _annotations(ui_server, project_id, page, 1)
    assert first.label == [{"bbox": [111, 44, 169, 97], "label": "triangle"}]

    # On the next image, A takes all of them; their edges can still be dragged after.
    expect(suggestions).to_have_count(2)
    page.keyboard.press("a")
    expect(suggestions).to_have_count(0)
    expect(page.locator("#item svg g.box")).to_have_count(2)
    page.keyboard.press("Tab")
    _drag(page, (82, 41), (86, 41))  # its east handle
    _submit(page)
    second = _annotations(ui_server, project_id, page, 2)[1]
    assert second.label[1] == {"bbox": [112, 44, 170, 97], "label": "circle"}
    assert _close(second.label[0]["bbox"], [18, 22, 86, 61]), second.label


def test_a_reviewer_sees_and_corrects_boxes_and_the_item_page_shows_them(
    login, ui_server, tmp_path, shoot_sizes
) -> None:
    project_id = _box_project(ui_server, tmp_path, n_items=1, review_policy="all")
    _model_boxes(
        ui_server, project_id, [{"bbox": [114, 44, 166, 96], "label": "circle", "score": 0.7}]
    )
    annotator = users.get_user(ui_server.db, "annotator")
    task = queue.lease_next_task(ui_server.db, project_id=project_id, user=annotator)
    review_label = [{"bbox": [20, 20, 80, 60], "label": "circle"}]
    annotate.submit_annotation(ui_server.db, task_id=task.id, user=annotator, label=review_label)

    page = login("reviewer")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(ui_server.url + f"/projects/{project_id}/review")
    expect(page.locator("#item svg g.box")).to_have_count(1)
    expect(page.locator("#annotations")).to_contain_text("1 box: 1 circle")
    expect(page.locator("#box-sources")).to_contain_text("model v1")
    page.keyboard.press("v")  # the model's boxes, dashed
    expect(page.locator("#item svg g.box.suggestion")).to_have_count(1)
    page.keyboard.press("v")
    expect(page.locator("#item svg g.box.suggestion")).to_have_count(0)
    shoot_sizes(page, "83-boxes-review")

    # Correct: the annotator's box is a square; the model's circle is taken.
    page.keyboard.press("c")
    expect(page.locator("#correct-form")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("2")
    page.keyboard.press("a")
    expect(page.locator("#item svg g.box.suggestion")).to_have_count(0)
    # And a triangle the annotator missed, drawn with the mouse.
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    _drag(page, (100, 5), (130, 30))
    expect(page.locator("#item svg g.box")).to_have_count(3)
    expect(page.locator("#correct-form")).to_be_visible()
    shoot_sizes(page, "84-boxes-review-correct")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("correct")
    with ui_server.db.read() as session:
        item = session.execute(select(ItemRow).where(ItemRow.project_id == project_id)).scalar_one()
    square, triangle, circle = item.final_label
    assert square == {"bbox": [20, 20, 80, 60], "label": "square"}
    assert circle == {"bbox": [114, 44, 166, 96], "label": "circle"}
    assert triangle["label"] == "triangle" and _close(triangle["bbox"], [100, 5, 130, 30])
    assert (
        review.lease_next_review(
            ui_server.db, project_id=project_id, user=users.get_user(ui_server.db, "reviewer")
        )
        is None
    )

    page.goto(ui_server.url + f"/projects/{project_id}/items/{item.id}")
    expect(page.locator("#item-boxes svg g.box.suggestion")).to_have_count(1)
    expect(page.locator("#item-boxes svg g.box:not(.suggestion)")).to_have_count(3)
    expect(page.locator("body")).to_contain_text("3 boxes: square, triangle, circle")
    shoot_sizes(page, "85-boxes-item")
    # The item browser and the annotator's feedback say the boxes in words.
    page.goto(ui_server.url + f"/projects/{project_id}/items")
    expect(page.locator("table")).to_contain_text("3 boxes: square, triangle, circle")
    mine = login("annotator")
    mine.goto(ui_server.url + f"/projects/{project_id}/feedback")
    expect(mine.locator(".your-label")).to_have_text("1 box: circle")
    expect(mine.locator(".reviewer-label")).to_have_text("3 boxes: square, triangle, circle")


def test_a_reopened_label_shows_its_boxes_to_change(login, ui_server, tmp_path) -> None:
    project_id = _box_project(ui_server, tmp_path, n_items=2)
    page = login("annotator")
    _open(page, ui_server, project_id)
    page.keyboard.press("2")
    _drag(page, (20, 20), (80, 60))
    _drag(page, (120, 50), (160, 90))
    _submit(page)
    _annotations(ui_server, project_id, page, 1)
    entry = page.locator("#history-list .history-entry").first
    expect(entry).to_contain_text("2 boxes: 2 square")
    page.keyboard.press("h")
    page.keyboard.press("Enter")
    expect(page.locator("#editing")).to_be_visible()
    expect(page.locator("#item svg g.box")).to_have_count(2)
    page.keyboard.press("Shift+Tab")  # the last box
    page.keyboard.press("1")
    page.keyboard.press("Tab")
    page.keyboard.press("Backspace")
    expect(page.locator("#item svg g.box")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("1 box: 1 circle")
    (changed,) = _annotations(ui_server, project_id)
    assert changed.label == [{"bbox": [120, 50, 160, 90], "label": "circle"}]


def test_no_suggestions_where_the_project_hides_the_models_guess(
    login, ui_server, tmp_path
) -> None:
    project_id = _box_project(ui_server, tmp_path, n_items=1, show_model_guess=False)
    _model_boxes(
        ui_server, project_id, [{"bbox": [18, 22, 82, 61], "label": "square", "score": 0.9}]
    )
    page = login("annotator")
    _open(page, ui_server, project_id)
    page.keyboard.press("a")
    page.wait_for_timeout(300)  # had the guess been asked for, its boxes would be drawn now
    expect(page.locator("#item svg g.box")).to_have_count(0)
    expect(page.locator("#accept-guess")).to_have_count(0)
    page.keyboard.press("?")
    expect(page.locator("#keys-overlay")).not_to_contain_text("suggestion")
    page.keyboard.press("Escape")
    _submit(page)
    assert _annotations(ui_server, project_id, page, 1)[0].label == []


def test_a_reviewer_sees_which_boxes_two_annotators_did_not_agree_on(
    login, browser, ui_server, tmp_path, shoot_sizes
) -> None:
    project_id = _box_project(ui_server, tmp_path, n_items=1, overlap=2)
    second = "annotator-two"
    users.create_user(
        ui_server.db, actor="cli:test", name=second, role="annotator",
        password="annotator-two-pw", projects=[project_id],
    )  # fmt: skip
    # The first annotator draws the square and the disc; the second only the square.
    first = login("annotator")
    _open(first, ui_server, project_id)
    first.keyboard.press("2")
    _drag(first, (20, 20), (80, 60))
    # Let go of the new square, so that the class key sets the next box's class only.
    first.mouse.click(*_screen(first, 150, 20))
    expect(first.locator("#item svg g.box.selected")).to_have_count(0)
    first.keyboard.press("1")
    _drag(first, (115, 45), (165, 95))
    expect(first.locator("#item svg g.box")).to_have_count(2)
    first.keyboard.press("Enter")
    (drawn,) = _annotations(ui_server, project_id, first, 1)

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    try:
        other = context.new_page()
        other.goto(ui_server.url + "/")
        other.fill("input[name=name]", second)
        other.fill("input[name=password]", "annotator-two-pw")
        other.press("input[name=password]", "Enter")
        other.wait_for_url("**/projects")
        _open(other, ui_server, project_id)
        other.keyboard.press("2")
        _drag(other, (21, 20), (80, 61))
        expect(other.locator("#item svg g.box")).to_have_count(1)
        other.keyboard.press("Enter")
        _annotations(ui_server, project_id, other, 2)
    finally:
        context.close()
    with ui_server.db.read() as session:
        item = session.execute(select(ItemRow).where(ItemRow.project_id == project_id)).scalar_one()
    assert (item.status, item.final_label) == ("in_review", None)

    # The review names the disc only the first annotator drew, not the shared square.
    page = login("reviewer")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(ui_server.url + f"/projects/{project_id}/review")
    expect(page.locator("#review-reason")).to_have_text("review: boxes disagree")
    said = page.locator("#model-guess")
    expect(said).to_contain_text("Not agreed: annotator's box 1 (circle [")
    expect(said).to_contain_text("drawn by 1 annotator(s).")
    expect(said).not_to_contain_text("square")
    expect(page.locator("#box-sources button.box-source")).to_have_count(2)
    expect(page.locator("#box-sources")).to_contain_text(f"{second} (1 box: 1 square)")
    shoot_sizes(page, "86-boxes-not-agreed")

    # The reviewer decides the disc is there: the first annotator's boxes, corrected as
    # they are, become the final label.
    page.keyboard.press("c")
    expect(page.locator("#correct-form")).to_be_visible()
    expect(page.locator("#item svg g.box")).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("correct")
    with ui_server.db.read() as session:
        item = session.execute(select(ItemRow).where(ItemRow.project_id == project_id)).scalar_one()
    assert item.status == "accepted"
    assert [box["label"] for box in item.final_label] == ["square", "circle"]
    for final, annotated in zip(item.final_label, drawn.label, strict=True):
        assert _close(final["bbox"], annotated["bbox"], 0.01)
    square, circle = item.final_label
    assert _close(square["bbox"], [20, 20, 80, 60]) and _close(circle["bbox"], [115, 45, 165, 95])
