"""What reviewers and admins need next, in headless Chromium against a real ``labelloop
serve``: the item browser's skipped filter, sorted columns, saved filters and image
thumbnails; the dashboard's verdict in plain words and its per-annotator review counts.

Each test works in a project of its own (the ``new_project`` fixture).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from labelloop.engine import annotate, queue, review, users

pytestmark = pytest.mark.browser

TEAM = ("admin", "annotator", "reviewer")


def _skip_two_and_review_three(ui_server, project_id: int) -> list[str]:
    """The annotator skips two items (one with a reason) and labels three; the reviewer
    rejects one, corrects one and accepts one. Returns the skipped items' external ids."""
    annotator = users.get_user(ui_server.db, "annotator")
    reviewer = users.get_user(ui_server.db, "reviewer")
    skipped = []
    for reason in ("ambiguous", None):
        task = queue.lease_next_task(ui_server.db, project_id=project_id, user=annotator)
        queue.skip_task(ui_server.db, task_id=task.id, user=annotator, reason=reason)
        skipped.append(task.item.external_id)
    for verdict, label in (("reject", None), ("correct", "neg"), ("accept", None)):
        task = queue.lease_next_task(ui_server.db, project_id=project_id, user=annotator)
        annotate.submit_annotation(ui_server.db, task_id=task.id, user=annotator, label="pos")
        leased = review.lease_next_review(ui_server.db, project_id=project_id, user=reviewer)
        review.submit_review(
            ui_server.db,
            review_task_id=leased.id,
            user=reviewer,
            verdict=verdict,
            label=label,
            note="look again",
        )
    return skipped


def _column(page, name: str) -> list[str]:
    """The text of one column of the item table, top to bottom."""
    headers = page.locator("#items thead th").all_inner_texts()
    index = next(i for i, h in enumerate(headers) if h.startswith(name))
    return page.locator(f"#items tbody tr td:nth-child({index + 1})").all_inner_texts()


def test_the_item_browser_filters_skipped_sorts_and_saves_filters_by_keyboard(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=12, review_policy="all")
    skipped = _skip_two_and_review_three(ui_server, project_id)
    page = login("admin")
    page.goto(ui_server.url + f"/projects/{project_id}/items")
    expect(page.locator("#found-count")).to_have_text("12 items")

    # Only the skipped ones, by keyboard: tick the box, then Enter in the text field.
    page.locator("#item-filters input[name=skipped]").focus()
    page.keyboard.press("Space")
    page.locator("input[name=q]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#found-count")).to_have_text("2 items")
    assert sorted(_column(page, "external id")) == sorted(skipped)
    reasons = page.locator("#items td.skips").all_inner_texts()
    assert any("ambiguous (annotator)" in r for r in reasons)
    assert any("no reason given (annotator)" in r for r in reasons)

    # Sort by external id with the keyboard: Enter on the header, again for descending.
    header = page.locator("#items th", has=page.locator("a[data-sort=external_id]"))
    page.locator("a[data-sort=external_id]").focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert _column(page, "external id") == sorted(skipped)
    page.locator("a[data-sort=external_id]").focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    assert _column(page, "external id") == sorted(skipped, reverse=True)
    # The filter stays while sorting; a click sorts too.
    expect(page.locator("#item-filters input[name=skipped]")).to_be_checked()
    page.click("a[data-sort=status]")
    expect(page.locator("#items th", has=page.locator("a[data-sort=status]"))).to_have_attribute(
        "aria-sort", "ascending"
    )
    shoot_sizes(page, "30-items-skipped-sorted")

    # Save the current filter under a name, by keyboard.
    page.locator("#save-filter input[name=name]").focus()
    page.keyboard.type("skipped by annotators")
    page.keyboard.press("Enter")
    expect(page.locator("#saved-filters [role=status]")).to_have_text(
        "filter \u201cskipped by annotators\u201d saved"
    )
    saved = page.locator("a.saved-filter", has_text="skipped by annotators")
    expect(saved).to_be_visible()

    # A reviewer re-applies it in one click; only admins may save or delete.
    reviewer = login("reviewer")
    reviewer.goto(ui_server.url + f"/projects/{project_id}/items")
    expect(reviewer.locator("#found-count")).to_have_text("12 items")
    assert reviewer.locator("#save-filter").count() == 0
    assert reviewer.locator("#saved-filters button").count() == 0
    reviewer.click("a.saved-filter >> text=skipped by annotators")
    expect(reviewer.locator("#found-count")).to_have_text("2 items")
    expect(reviewer.locator("#item-filters input[name=skipped]")).to_be_checked()
    status_header = reviewer.locator("#items th", has=reviewer.locator("a[data-sort=status]"))
    expect(status_header).to_have_attribute("aria-sort", "ascending")
    shoot_sizes(reviewer, "31-items-saved-filter-applied")

    # The admin deletes it, by keyboard.
    page.goto(ui_server.url + f"/projects/{project_id}/items")
    page.locator("button[aria-label='Delete saved filter skipped by annotators']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#saved-filters [role=status]")).to_have_text("filter deleted")
    expect(page.locator("a.saved-filter")).to_have_count(0)

    # A bad name is refused with the reason, nothing saved.
    page.locator("#save-filter input[name=name]").fill(" ")
    page.locator("#save-filter input[name=name]").press("Enter")
    expect(page.locator("p.error[role=alert]")).to_contain_text("needs a name")
    expect(page.locator("a.saved-filter")).to_have_count(0)


def _digit_images(folder, n: int) -> None:
    """``n`` 64x64 greyscale digits (ink on white) in ``folder``."""
    import numpy as np
    from PIL import Image

    from labelloop.datasets import load_dataset

    data = load_dataset("digits")
    folder.mkdir(parents=True)
    for i in range(n):
        pixels = 255 - np.clip(np.asarray(data.X[i]).reshape(8, 8) * 16, 0, 255)
        Image.fromarray(pixels.astype(np.uint8), mode="L").resize((64, 64)).save(
            folder / f"{i:04d}.png"
        )


def test_the_item_browser_shows_image_thumbnails_and_text_snippets(
    login, ui_server, new_project, tmp_path, shoot_sizes
) -> None:
    from labelloop.engine import ingest, projects

    folder = tmp_path / "digits"
    _digit_images(folder, 6)
    project = projects.create_project(
        ui_server.db,
        actor="cli:test",
        name="digits-browser",
        task_type="image",
        labels=[str(d) for d in range(10)],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    ingest.import_items(ui_server.db, actor="cli:test", project=project.id, path=folder)
    for name in TEAM:
        users.add_member(ui_server.db, actor="cli:test", project=project.id, user=name)

    page = login("reviewer")
    page.goto(ui_server.url + f"/projects/{project.id}/items")
    thumbs = page.locator("#items td.thumb img")
    expect(thumbs).to_have_count(6)
    for i in range(6):
        thumb = thumbs.nth(i)
        expect(thumb).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
    assert page.locator("#items td.snippet").count() == 0
    shoot_sizes(page, "32-items-thumbnails")

    # A text project shows a snippet of the text, no image column.
    text_project = new_project(n_items=3)
    page.goto(ui_server.url + f"/projects/{text_project}/items")
    expect(page.locator("#items td.snippet").first).to_have_text(re.compile(r"^Film 0 is "))
    assert page.locator("#items td.thumb").count() == 0


def test_the_dashboard_says_the_verdict_first_and_counts_reviews_per_annotator(
    login, ui_server, new_project, shoot_sizes
) -> None:
    project_id = new_project(n_items=12, review_policy="all")
    _skip_two_and_review_three(ui_server, project_id)
    page = login("admin")
    page.goto(ui_server.url + f"/projects/{project_id}")
    expect(page.locator("#verdict-headline")).to_have_text("Keep labelling")
    expect(page.locator("#verdict")).to_have_text("No model has been trained yet.")
    expect(page.locator("#verdict-details")).to_contain_text("Details: no model trained yet")
    # The plain words come before the statistics.
    headline_y = page.locator("#verdict-headline").bounding_box()["y"]
    assert headline_y < page.locator("#verdict-details").bounding_box()["y"]

    row = page.locator("#annotators tbody tr", has_text="annotator")
    expect(row.locator("td.rejected")).to_have_text("1")
    expect(row.locator("td.corrected")).to_have_text("1")
    expect(row.locator("td.skipped")).to_have_text("2")
    # The skip count opens the browser's skipped filter, by keyboard.
    row.locator("td.skipped a").focus()
    shoot_sizes(page, "33-dashboard-verdict-and-annotators")
    page.keyboard.press("Enter")
    expect(page.locator("#found-count")).to_have_text("2 items")
    expect(page.locator("#item-filters input[name=skipped]")).to_be_checked()
