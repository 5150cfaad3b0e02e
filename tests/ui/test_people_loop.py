"""What annotators and reviewers hit in a working day, in headless Chromium against a real
``labelloop serve``: two tabs of one annotator, a hidden model guess, a settings form
with an error, reviewers' feedback, a guideline change while the page is open, and the
layout at 1280x720 and 768 px.

Each test works in a project of its own (the ``new_project`` fixture).
"""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from labelloop.engine import rounds
from labelloop.store.tables import AnnotationRow

pytestmark = pytest.mark.browser


def _record_json(page) -> list[str]:
    """Collect the text of every JSON answer the page fetches, from now on."""
    bodies: list[str] = []

    def keep(response) -> None:
        if "application/json" in (response.headers.get("content-type") or ""):
            # An answer the page navigated away from has no body.
            with contextlib.suppress(Exception):
                bodies.append(response.text())

    page.on("response", keep)
    return bodies


def test_a_hidden_model_guess_is_nowhere_on_the_annotators_page(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(labelled=12, strategy="margin", show_model_guess=False)
    done = rounds.train(ui_server.db, actor="cli:test", project=project_id)
    assert done.model_version is not None

    page = login("annotator")
    bodies = _record_json(page)
    page.goto(ui_server.url + f"/projects/{project_id}/label")
    meta = page.locator("#item-meta")
    expect(meta).to_contain_text("why this item: picked because the model is unsure here")
    page.keyboard.press("m")
    expect(page.locator("#guess")).to_be_hidden()
    assert page.locator("#guess-toggle").count() == 0
    shoot_sizes(page, "20-label-guess-hidden")
    # Label a few: the tasks leased ahead and after each submit say nothing either.
    for _ in range(3):
        shown = page.locator("#item .text").inner_text()
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        expect(page.locator("#item .text")).not_to_have_text(shown)
    html = page.content()
    seen = [html, *bodies]
    assert len(bodies) >= 4
    for text in seen:
        assert "torn between" not in text
        assert not re.search(r"\((0|1)\.\d\d\)", text), text[:300]
    for body in bodies:
        data = json.loads(body)
        if isinstance(data, dict) and "reason" in data:
            assert data["reason"] in (
                "picked because the model is unsure here",
                "a typical example of a group of similar items",
                "unlike the items labelled so far",
                "picked at random, so the labels stay a fair sample",
                "next in line: the model can learn from it",
            ), data["reason"]

    # A reviewer still reads the model's own reason.
    reviewer = login("reviewer")
    reviewer.goto(ui_server.url + f"/projects/{project_id}/label")
    expect(reviewer.locator("#item-meta")).to_contain_text("torn between")
    with ui_server.db.read() as session:
        assert session.execute(
            select(AnnotationRow.id).where(AnnotationRow.project_id == project_id)
        ).all()


def _labels_of(ui_server, project_id: int) -> list[tuple[str, str]]:
    from labelloop.store.tables import ItemRow

    with ui_server.db.read() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(ItemRow.external_id, AnnotationRow.label)
                .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
                .where(AnnotationRow.project_id == project_id, AnnotationRow.status == "active")
            )
        ]


def test_two_tabs_of_one_annotator_label_different_items_and_lose_nothing(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=30)
    first = login("annotator")
    second = first.context.new_page()
    url = ui_server.url + f"/projects/{project_id}/label"
    first.goto(url)
    second.goto(url)
    tabs = (first, second)
    for tab in tabs:
        expect(tab.locator("#item .text")).to_have_text(re.compile(r"^Film \d+ is "))
    # A reload keeps the tab's own item; the other tab holds another one.
    held = first.locator("#item .text").inner_text()
    first.reload()
    expect(first.locator("#item .text")).to_have_text(held)
    shoot_sizes(second, "21-label-second-tab")

    shown: list[str] = []
    for n in range(8):
        tab = tabs[n % 2]
        text = tab.locator("#item .text")
        current = text.inner_text()
        other = tabs[1 - n % 2].locator("#item .text").inner_text()
        assert current != other, "two tabs show the same item"
        shown.append(current)
        tab.keyboard.press("1" if n % 3 else "2")
        tab.keyboard.press("Enter")
        expect(text).not_to_have_text(current)
    # The last submit's write is done once its tab counts all eight (both tabs' labels).
    expect(tabs[1].locator("#done-today")).to_have_text("8")
    for tab in tabs:
        assert "Not saved" not in (tab.locator("#notice").text_content() or "")
    labelled = _labels_of(ui_server, project_id)
    assert len(labelled) == 8 == len(set(shown))


def test_a_settings_error_keeps_every_edit_and_sits_beside_its_field(
    login, ui_server, new_project, shoot_sizes
) -> None:
    from labelloop.engine import projects

    project_id = new_project(n_items=5, batch_size=10)
    before = projects.get_project_info(ui_server.db, project_id)
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{project_id}/settings")
    draft = "# Films v2\n\nSarcasm is **neg**; a draft nobody saved yet."
    admin.fill("textarea[name=guidelines]", draft)
    admin.fill("input[name=batch_size]", "37")
    admin.check("input[name=review_policy][value=none]")
    admin.check("input[name=review_policy][value=percent]")
    admin.uncheck("input[name=show_model_guess]")
    admin.click("form.settings button[type=submit]")
    error = admin.locator("#error-review_policy")
    expect(error).to_contain_text("'none' cannot be combined")
    # The error sits inside the policy's own fieldset, and every edit is still there.
    expect(admin.locator("fieldset.invalid #error-review_policy")).to_have_count(1)
    expect(admin.locator("textarea[name=guidelines]")).to_have_value(draft)
    expect(admin.locator("input[name=batch_size]")).to_have_value("37")
    expect(admin.locator("input[name=review_policy][value=percent]")).to_be_checked()
    expect(admin.locator("input[name=show_model_guess]")).not_to_be_checked()
    shoot_sizes(admin, "22-settings-error")
    after = projects.get_project_info(ui_server.db, project_id)
    assert after.settings == before.settings
    assert after.guideline_version == before.guideline_version
    # Fixing the one field saves the rest as typed.
    admin.uncheck("input[name=review_policy][value=none]")
    admin.click("form.settings button[type=submit]")
    expect(admin.locator("p.ok")).to_contain_text("settings saved")
    saved = projects.get_project_info(ui_server.db, project_id)
    assert saved.settings["batch_size"] == 37
    assert saved.settings["review_policy"] == "percent"
    assert saved.guideline_version == before.guideline_version + 1


def _label_and_review(ui_server, project_id: int, verdicts) -> None:
    """The annotator labels one item per verdict; the reviewer gives that verdict."""
    from labelloop.engine import annotate, queue, review, users

    annotator = users.get_user(ui_server.db, "annotator")
    reviewer = users.get_user(ui_server.db, "reviewer")
    for verdict, label, note in verdicts:
        task = queue.lease_next_task(
            ui_server.db, project_id=project_id, user=annotator, holder="script"
        )
        annotate.submit_annotation(ui_server.db, task_id=task.id, user=annotator, label="pos")
        leased = review.lease_next_review(ui_server.db, project_id=project_id, user=reviewer)
        review.submit_review(
            ui_server.db,
            review_task_id=leased.id,
            user=reviewer,
            verdict=verdict,
            label=label,
            note=note,
        )


def test_reviewers_notes_reach_the_annotator_with_an_unread_count(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=12, review_policy="all")
    _label_and_review(
        ui_server,
        project_id,
        [
            ("reject", None, "the critic is sarcastic: see the guidelines"),
            ("accept", None, None),
            ("correct", "neg", "'a bore' is never praise"),
        ],
    )
    page = login("annotator")
    page.goto(ui_server.url + f"/projects/{project_id}/label")
    count = page.locator("#feedback-count")
    expect(count).to_have_text("2")
    # A review given while the page sits open reaches the header without a reload.
    _label_and_review(ui_server, project_id, [("reject", None, "too quick")])
    expect(count).to_have_text("3", timeout=30_000)
    shoot_sizes(page, "23-label-feedback-count")

    page.locator("#feedback-link").click()
    entries = page.locator("li.feedback")
    expect(entries).to_have_count(3)
    expect(page.locator("li.feedback.unread")).to_have_count(3)
    newest, corrected, rejected = (entries.nth(n) for n in range(3))
    expect(newest.locator(".note")).to_have_text("too quick")
    expect(corrected.locator(".reviewer-label")).to_have_text("neg")
    expect(corrected.locator(".your-label")).to_have_text("pos")
    expect(corrected.locator(".note")).to_have_text("'a bore' is never praise")
    expect(corrected).to_contain_text("Corrected by reviewer")
    expect(rejected.locator(".note")).to_have_text("the critic is sarcastic: see the guidelines")
    expect(rejected.locator(".item .text")).to_have_text(re.compile(r"^Film \d+ is "))
    shoot_sizes(page, "24-my-feedback")
    # Opened once, the feedback is read: the count is gone, the entries stay.
    page.reload()
    expect(count).to_be_hidden()
    expect(page.locator("li.feedback.unread")).to_have_count(0)
    expect(entries).to_have_count(3)


def test_a_new_guideline_version_is_announced_while_the_page_sits_open(
    login, ui_server, new_project, shoot_sizes
) -> None:
    from labelloop.engine import projects

    project_id = new_project(n_items=10)
    page = login("annotator")
    page.goto(ui_server.url + f"/projects/{project_id}/label")
    expect(page.locator("#guideline-badge")).to_have_text("guidelines v1")
    expect(page.locator("#item .text")).to_have_text(re.compile(r"^Film \d+ is "))
    # The page has finished asking after the item: the change comes while it sits open.
    page.wait_for_load_state("networkidle")
    projects.set_guidelines(
        ui_server.db, actor="admin", project=project_id, text="# Films v2\n\nIrony is **neg**."
    )
    notice = page.locator("#notice")
    expect(notice).to_have_text(
        "The guidelines changed (version 2): press G to read them.", timeout=30_000
    )
    expect(page.locator("#guideline-badge")).to_have_text("guidelines v2")
    page.keyboard.press("g")
    expect(page.locator("#guidelines strong")).to_have_text("neg")
    shoot_sizes(page, "25-label-new-guidelines")


def _digit_images(folder, n: int) -> None:
    """``n`` 64x64 greyscale digits of the demo's kind (ink on white) in ``folder``."""
    import numpy as np
    from PIL import Image

    from labelloop.datasets import load_dataset

    data = load_dataset("digits")
    folder.mkdir(parents=True)
    for i in range(n):
        pixels = 255 - np.clip(np.asarray(data.X[i]).reshape(8, 8) * 16, 0, 255)
        image = Image.fromarray(pixels.astype(np.uint8), mode="L").resize((64, 64))
        image.save(folder / f"{i:04d}.png")


def test_the_reviewers_correction_buttons_are_in_view_at_1280x720(
    login, ui_server, tmp_path, shoot_sizes
) -> None:
    from labelloop.engine import annotate, ingest, projects, queue, users

    folder = tmp_path / "digits"
    _digit_images(folder, 4)
    project = projects.create_project(
        ui_server.db,
        actor="cli:test",
        name="digits-review",
        task_type="image",
        labels=[*(str(d) for d in range(1, 10)), "0"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "review_policy": "all"},
    )
    ingest.import_items(ui_server.db, actor="cli:test", project=project.id, path=folder)
    for name in PASSWORDS_OF_TEAM:
        users.add_member(ui_server.db, actor="cli:test", project=project.id, user=name)
    annotator = users.get_user(ui_server.db, "annotator")
    task = queue.lease_next_task(ui_server.db, project_id=project.id, user=annotator)
    annotate.submit_annotation(ui_server.db, task_id=task.id, user=annotator, label="3")

    reviewer = login("reviewer")
    reviewer.set_viewport_size({"width": 1280, "height": 720})
    reviewer.goto(ui_server.url + f"/projects/{project.id}/review")
    image = reviewer.locator("#item img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    reviewer.keyboard.press("c")
    expect(reviewer.locator("#correct-form")).to_be_visible()
    assert reviewer.evaluate("window.scrollY") == 0
    for control in ("#correct-form .label-button >> nth=9", "#correct-submit", "#correct-note"):
        box = reviewer.locator(control).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 720, control
    shoot_sizes(reviewer, "26-review-correct")


PASSWORDS_OF_TEAM = ("admin", "annotator", "reviewer")


@pytest.fixture(scope="module")
def dashboard_project(ui_server) -> int:
    """A project of 1,200 items with one round, for the dashboard's layout tests."""
    from labelloop.engine import annotate, ingest, projects, users

    project = projects.create_project(
        ui_server.db,
        actor="cli:test",
        name="films-dashboard",
        task_type="classification",
        labels=["pos", "neg"],
        strategy="margin",
        settings={"eval_share": 0.02, "eval_min": 0, "eval_min_labels": 0, "retrain_every": 0},
    )
    words = {"pos": ("a joy", "moving", "a delight"), "neg": ("a bore", "tedious", "a mess")}
    records = [
        {"id": f"d{n}", "text": f"Film {n} is {words['pos' if n % 2 else 'neg'][n % 3]}."}
        for n in range(1200)
    ]
    ingest.import_items(ui_server.db, actor="cli:test", project=project.id, records=records)
    for record in records[:40]:
        n = int(record["id"][1:])
        annotate.record_annotation(
            ui_server.db,
            actor="cli:test",
            project=project.id,
            external_id=record["id"],
            label="pos" if n % 2 else "neg",
        )
    for name in PASSWORDS_OF_TEAM:
        users.add_member(ui_server.db, actor="cli:test", project=project.id, user=name)
    rounds.train(ui_server.db, actor="cli:test", project=project.id)
    return project.id


def test_dashboard_numbers_read_one_way(login, ui_server, dashboard_project) -> None:
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{dashboard_project}")
    # Counts carry thousands separators; every other measure has 3 decimals.
    expect(admin.locator("#n-items")).to_have_text("1,200")
    # What the page says in words and tables (the chart's axis has its own ticks).
    text = admin.evaluate(
        "() => { const m = document.querySelector('main').cloneNode(true);"
        " m.querySelectorAll('svg').forEach((s) => s.remove()); return m.innerText; }"
    )
    measures = re.findall(r"\d+\.\d+", text.replace("%", ""))
    assert measures and all(re.fullmatch(r"\d+\.\d{3}", m) for m in measures), measures


def test_a_one_round_learning_curve_counts_whole_labels(
    login, ui_server, dashboard_project
) -> None:
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{dashboard_project}")
    expect(admin.locator("#rounds tbody tr")).to_have_count(1)
    ticks = admin.locator("#learning-curve g[id^=xtick] text").evaluate_all(
        "texts => texts.map((t) => t.textContent)"
    )
    assert ticks and all(re.fullmatch(r"[\d,]+", t.strip()) for t in ticks), ticks


def test_the_pages_have_a_favicon_of_their_own(login, ui_server) -> None:
    page = login("annotator")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None and icon.startswith("/static/")
    answer = page.request.get(ui_server.url + icon)
    assert answer.ok and answer.headers["content-type"].startswith("image/svg")


def test_the_dashboard_fits_768_px(login, ui_server, dashboard_project, shoot_sizes) -> None:
    admin = login("admin")
    admin.set_viewport_size({"width": 768, "height": 1024})
    admin.goto(ui_server.url + f"/projects/{dashboard_project}")
    # Nothing spills over the page; a wide table scrolls inside its own card.
    overflow = admin.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    wide = admin.evaluate(
        "() => Array.from(document.querySelectorAll('body *')).filter((e) =>"
        " e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
        ".map((e) => e.tagName + '.' + e.className).slice(0, 5)"
    )
    assert overflow <= 0, wide
    for table in admin.locator("main table").all():
        box = table.bounding_box()
        card = table.locator("xpath=ancestor::section[1]").bounding_box()
        scrolls = table.evaluate("t => getComputedStyle(t.parentElement).overflowX === 'auto'")
        assert scrolls or box["x"] + box["width"] <= card["x"] + card["width"] + 1
    shoot_sizes(admin, "27-dashboard")


def test_the_dark_mode_chart_is_not_a_white_box(
    login, ui_server, dashboard_project, shoot_sizes
) -> None:
    from io import BytesIO

    from PIL import Image

    admin = login("admin")
    admin.emulate_media(color_scheme="dark")
    admin.goto(ui_server.url + f"/projects/{dashboard_project}")
    shot = admin.locator("#learning-curve svg").screenshot()
    histogram = Image.open(BytesIO(shot)).convert("L").histogram()
    light = sum(histogram[230:]) / sum(histogram)
    assert light < 0.2, f"{light:.0%} of the dark-mode chart is near white"
    shoot_sizes(admin, "28-dashboard-dark")
