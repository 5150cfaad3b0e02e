"""The label page's tools for a working day, driven by keyboard in headless Chromium against a
real ``labelloop serve``: pace and queue progress, images fitted, zoomed, panned and lit,
recent labels reopened and changed until a reviewer judges them, a flag and a comment
with a label, skip reasons on one key, the model's guess accepted on one key, the keys
overlay, and what changed in the guidelines. Each view is shot at 1280x720 and 768 px.

Each test works in a project of its own (the ``new_project`` fixture or its own).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from labelloop.engine import browse, ingest, projects, review, rounds, users
from labelloop.store.tables import AnnotationRow, ItemRow, TaskLeaseRow

pytestmark = pytest.mark.browser

TEAM = ("admin", "annotator", "reviewer")


def _open(page, ui_server, project_id: int) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(ui_server.url + f"/projects/{project_id}/label")
    expect(page.locator("#item .text, #item img").first).to_be_visible()


def _label_by_keys(page, key: str) -> None:
    shown = page.locator("#item-meta").inner_text()
    page.keyboard.press(key)
    page.keyboard.press("Enter")
    expect(page.locator("#item-meta")).not_to_have_text(shown)


def _annotations(ui_server, project_id: int) -> list[AnnotationRow]:
    with ui_server.db.read() as session:
        return list(
            session.execute(
                select(AnnotationRow)
                .where(AnnotationRow.project_id == project_id)
                .order_by(AnnotationRow.id)
            ).scalars()
        )


def test_progress_bar_pace_and_the_keys_overlay(login, ui_server, new_project, shoot_sizes) -> None:
    project_id = new_project(n_items=10)
    page = login("annotator")
    _open(page, ui_server, project_id)
    for key in ("1", "2", "1"):
        page.wait_for_timeout(300)  # a look at the item: the time on task is the page's own
        _label_by_keys(page, key)
    expect(page.locator("#done-today")).to_have_text("3")
    expect(page.locator("#queue-text")).to_have_text("Queue: 3 of 10 items done (30%)")
    expect(page.locator("#queue-bar")).to_have_attribute("aria-valuenow", "3")
    expect(page.locator("#per-hour")).to_have_text(re.compile(r"^\d[\d,]*$"))
    expect(page.locator("#time-today")).to_have_text(re.compile(r"^\d+ min$"))
    shoot_sizes(page, "40-label-progress")

    page.keyboard.press("?")
    overlay = page.locator("#keys-overlay")
    expect(overlay).to_be_visible()
    for words in ("mark the label unsure", "skip: then", "your recent labels", "what changed"):
        expect(overlay).to_contain_text(words)
    expect(overlay).to_contain_text("1 ambiguous, 2 cannot see, 3 not in schema")
    expect(overlay).to_contain_text("accept the model's guess")
    # Keys do nothing else while the overlay is open.
    page.keyboard.press("1")
    expect(page.locator("#labels .label-button").first).to_have_attribute("aria-pressed", "false")
    shoot_sizes(page, "41-label-keys-overlay")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()


def _images(folder, n: int) -> None:
    """``n`` 48x48 greyscale squares of different ink, as PNG files in ``folder``."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        pixels = np.full((48, 48), 235, dtype=np.uint8)
        pixels[12 + i : 36, 12 : 36 - i] = 40 + 20 * i
        Image.fromarray(pixels, mode="L").save(folder / f"{i:03d}.png")


def test_images_fit_the_pane_then_zoom_pan_and_light_by_keys_and_mouse(
    login, ui_server, tmp_path, shoot_sizes
) -> None:
    folder = tmp_path / "squares"
    _images(folder, 3)
    project = projects.create_project(
        ui_server.db,
        actor="cli:test",
        name="squares",
        task_type="image",
        labels=["light", "dark"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    ingest.import_items(ui_server.db, actor="cli:test", project=project.id, path=folder)
    for name in TEAM:
        users.add_member(ui_server.db, actor="cli:test", project=project.id, user=name)
    page = login("annotator")
    _open(page, ui_server, project.id)
    image = page.locator("#item img")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('#item img').complete")
    # Fitted: the 48 px image fills the pane's width or the height given to it.
    box = image.bounding_box()
    assert box["width"] > 600 and box["height"] > 300, box
    expect(page.locator("#zoom-level")).to_have_text("fit")
    shoot_sizes(page, "42-label-image-fit")

    style = lambda: image.get_attribute("style") or ""  # noqa: E731
    page.keyboard.press("+")
    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("156%")
    assert "scale(1.5625)" in style()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert "translate(-40px, -40px)" in style()
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("{")
    assert "brightness(120%) contrast(90%)" in style()
    expect(page.locator("#brightness")).to_have_value("120")
    # The sliders by keyboard: focus one, then the arrows move it.
    page.locator("#contrast").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert "contrast(110%)" in style()
    page.locator("#item").focus()
    # The mouse: the wheel zooms, a drag pans.
    middle = image.bounding_box()
    x, y = middle["x"] + middle["width"] / 2, middle["y"] + middle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.wheel(0, -100)
    expect(page.locator("#zoom-level")).to_have_text("195%")
    page.mouse.down()
    page.mouse.move(x + 60, y + 30, steps=4)
    page.mouse.up()
    assert "translate(20px, -10px)" in style()
    shoot_sizes(page, "43-label-image-zoomed")
    page.keyboard.press("r")
    expect(page.locator("#zoom-level")).to_have_text("fit")
    assert "scale(1)" in style() and "brightness(100%) contrast(100%)" in style()
    # Labelling goes on with the image keys around.
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#done-today")).to_have_text("1")


def test_recent_labels_survive_a_reload_change_until_reviewed_then_refuse_in_words(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=6, review_policy="all")
    page = login("annotator")
    _open(page, ui_server, project_id)
    _label_by_keys(page, "1")
    _label_by_keys(page, "1")
    expect(page.locator("#done-today")).to_have_text("2")
    first, second = _annotations(ui_server, project_id)

    page.reload()
    entries = page.locator("#history-list .history-entry")
    expect(entries).to_have_count(2)
    page.keyboard.press("h")
    expect(entries.nth(0)).to_be_focused()  # newest first
    expect(entries.nth(0)).to_contain_text("pos")
    shoot_sizes(page, "44-label-history")
    page.keyboard.press("Enter")
    editing = page.locator("#editing")
    expect(editing).to_be_visible()
    expect(editing).to_contain_text("Changing your label of")
    page.keyboard.press("2")
    page.keyboard.press("f")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("to “neg”")
    expect(editing).to_be_hidden()
    changed = {row.id: row for row in _annotations(ui_server, project_id)}[second.id]
    assert (changed.label, changed.unsure) == ("neg", True)

    # A reviewer judges the older label while the page still lists it as open.
    reviewer = users.get_user(ui_server.db, "reviewer")
    task = review.lease_next_review(ui_server.db, project_id=project_id, user=reviewer)
    assert [a.id for a in task.annotations] == [first.id]
    review.submit_review(ui_server.db, review_task_id=task.id, user=reviewer, verdict="accept")
    page.keyboard.press("h")
    page.keyboard.press("ArrowDown")
    expect(entries.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(editing).to_be_visible()
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text(
        "a reviewer has already judged your label of item"
    )
    expect(page.locator("#notice")).to_contain_text("it cannot be changed any more")
    shoot_sizes(page, "45-label-change-refused")
    page.keyboard.press("Escape")
    expect(editing).to_be_hidden()
    assert {row.id: row.label for row in _annotations(ui_server, project_id)}[first.id] == "pos"
    # After a reload the list says so before any try.
    page.reload()
    expect(entries.nth(1)).to_contain_text("reviewed, final")


def test_a_flag_and_a_comment_go_with_the_label_to_reviewers_and_admins(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=4, review_policy="all")
    page = login("annotator")
    _open(page, ui_server, project_id)
    page.keyboard.press("1")
    page.keyboard.press("f")
    expect(page.locator("#unsure")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("c")
    expect(page.locator("#comment")).to_be_focused()
    page.keyboard.type("sarcasm, I think")
    page.keyboard.press("Enter")  # keeps the comment; the label is not sent yet
    expect(page.locator("#comment-shown")).to_have_text("comment: sarcasm, I think")
    assert _annotations(ui_server, project_id) == []
    shoot_sizes(page, "46-label-flag-comment")
    shown = page.locator("#item-meta").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator("#item-meta")).not_to_have_text(shown)
    expect(page.locator("#unsure")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#comment-shown")).to_have_text("")
    expect(page.locator("#done-today")).to_have_text("1")  # the label's write is done
    [made] = _annotations(ui_server, project_id)
    assert (made.label, made.unsure, made.comment) == ("pos", True, "sarcasm, I think")

    reviewer = login("reviewer")
    reviewer.set_viewport_size({"width": 1280, "height": 720})
    reviewer.goto(ui_server.url + f"/projects/{project_id}/review")
    rows = reviewer.locator("#annotations")
    expect(rows).to_contain_text("unsure")
    expect(rows).to_contain_text("“sarcasm, I think”")
    shoot_sizes(reviewer, "47-review-flag-comment")

    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{project_id}/items/{made.item_id}")
    expect(admin.locator(".annotation-flag")).to_have_text("unsure")
    expect(admin.locator(".annotation-comment")).to_have_text("“sarcasm, I think”")


def test_skip_reasons_of_the_project_are_one_key_each(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=4, skip_reasons=["sarcasm", "off topic"])
    page = login("annotator")
    _open(page, ui_server, project_id)
    shown = page.locator("#item-meta").inner_text()
    external_id = shown.split(" · ")[0]
    page.keyboard.press("s")
    form = page.locator("#skip-form")
    expect(form).to_be_visible()
    expect(form.locator(".skip-reason")).to_have_text(["1 sarcasm", "2 off topic"])
    shoot_sizes(page, "48-label-skip-reasons")
    page.keyboard.press("2")
    expect(page.locator("#item-meta")).not_to_have_text(shown)
    expect(form).to_be_hidden()
    # The skip is sent after the next item is shown: wait for it to land.
    for _ in range(100):
        with ui_server.db.read() as session:
            reason = session.execute(
                select(TaskLeaseRow.skip_reason)
                .join(ItemRow, ItemRow.id == TaskLeaseRow.item_id)
                .where(ItemRow.project_id == project_id, ItemRow.external_id == external_id)
            ).scalar_one()
        if reason is not None:
            break
        page.wait_for_timeout(100)
    assert reason == "off topic"


def test_the_models_guess_is_accepted_on_one_key_only_where_it_is_shown(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(labelled=12, strategy="margin")
    assert rounds.train(ui_server.db, actor="cli:test", project=project_id).model_version
    page = login("annotator")
    _open(page, ui_server, project_id)
    external_id = page.locator("#item-meta").inner_text().split(" · ")[0]
    page.keyboard.press("m")
    expect(page.locator("#guess")).to_contain_text("guesses")
    shoot_sizes(page, "49-label-guess")
    page.keyboard.press("a")
    expect(page.locator("#item-meta")).not_to_contain_text(external_id + " ")
    expect(page.locator("#done-today")).to_have_text("1")
    with ui_server.db.read() as session:
        item_id, label = session.execute(
            select(ItemRow.id, AnnotationRow.label)
            .join(AnnotationRow, AnnotationRow.item_id == ItemRow.id)
            .where(ItemRow.project_id == project_id, ItemRow.external_id == external_id)
            .where(AnnotationRow.actor == "annotator")
        ).one()
    guess = browse.model_guess(ui_server.db, project_id=project_id, item_id=item_id)
    assert label == guess.label

    hidden = new_project(labelled=12, strategy="margin", show_model_guess=False)
    rounds.train(ui_server.db, actor="cli:test", project=hidden)
    _open(page, ui_server, hidden)
    assert page.locator("#accept-guess").count() == 0
    page.keyboard.press("a")
    page.wait_for_timeout(500)
    expect(page.locator("#done-today")).to_have_text("0")
    assert [a for a in _annotations(ui_server, hidden) if a.actor == "annotator"] == []


def test_what_changed_in_the_guidelines_is_shown_when_announced_and_from_the_guidelines(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=4)
    page = login("annotator")
    _open(page, ui_server, project_id)
    projects.set_guidelines(
        ui_server.db,
        actor="cli:test",
        project=project_id,
        text="# Films\n\nLabel the critic's opinion.\n\nSarcasm counts as **neg**.",
    )
    expect(page.locator("#changes-banner")).to_be_visible(timeout=30_000)
    page.keyboard.press("w")
    changes = page.locator("#guideline-changes")
    expect(changes).to_be_visible()
    expect(changes).to_contain_text("What changed from version 1 to 2")
    expect(changes.locator(".diff-line.added")).to_contain_text(["Sarcasm counts as **neg**."])
    expect(page.locator("#changes-banner")).to_be_hidden()
    shoot_sizes(page, "50-label-guideline-changes")
    # From the guidelines after a reload: the link, or W.
    page.reload()
    page.keyboard.press("g")
    expect(page.locator("#changes-toggle")).to_be_visible()
    expect(changes).to_be_hidden()
    page.keyboard.press("w")
    expect(changes.locator(".diff-line.added")).to_contain_text(["Sarcasm counts as **neg**."])
