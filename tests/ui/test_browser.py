"""The web UI in headless Chromium against a real ``labelloop serve``: log in, label by
keyboard, skip, undo, retrain, settings and guidelines, review and correct, item browser,
members, and items whose text is HTML shown as text.

The tests share one server and run in file order: the annotator's labels of the second
test are what the later tests review and browse.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from labelloop.engine import browse
from labelloop.store.tables import AnnotationRow, ItemRow, ReviewRow

pytestmark = pytest.mark.browser


def _labelled_items(ui_server) -> list[str]:
    with ui_server.db.read() as session:
        return list(
            session.execute(
                select(ItemRow.external_id).where(
                    ItemRow.project_id == ui_server.project_id, ItemRow.status != "open"
                )
            ).scalars()
        )


def test_log_in_form_and_a_wrong_password(browser, ui_server, shoot_sizes) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(ui_server.url + f"/projects/{ui_server.project_id}")
    expect(page.locator("h1")).to_have_text("Log in")
    shoot_sizes(page, "01-log-in")
    page.fill("input[name=name]", "annotator")
    page.fill("input[name=password]", "not the password")
    page.press("input[name=password]", "Enter")
    expect(page.locator(".error")).to_have_text("Wrong name or password.")
    assert context.cookies() == []
    context.close()


def test_annotator_labels_ten_by_keyboard_skips_undoes_and_the_model_retrains(
    login, ui_server, shoot_sizes
) -> None:
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{ui_server.project_id}")
    rounds_before = int(admin.locator("#round-count").inner_text())

    page = login("annotator")
    expect(page.locator(".project h2").first).to_have_text("films")
    shoot_sizes(page, "02-projects")
    page.goto(ui_server.url + f"/projects/{ui_server.project_id}/label")
    text = page.locator("#item .text")
    done = page.locator("#done-today")
    expect(text).to_have_text(re.compile(r"^Film \d+ is "))
    shoot_sizes(page, "03-label")

    seen = []
    for n in range(1, 11):
        current = text.inner_text()
        seen.append(current)
        page.keyboard.press("1" if n % 2 else "2")
        page.keyboard.press("Enter")
        expect(done).to_have_text(str(n))
        expect(text).not_to_have_text(current)
    assert len(set(seen)) == 10

    # S skips with a reason; the item is replaced by another.
    skipped = text.inner_text()
    page.keyboard.press("s")
    expect(page.locator("#skip-form")).to_be_focused()
    page.keyboard.type("unclear")  # a reason in words: the first letter moves to the text box
    expect(page.locator("#skip-reason")).to_have_value("unclear")
    page.keyboard.press("Enter")
    expect(text).not_to_have_text(skipped)

    # U undoes the last submit and shows that item again; labelling it again counts once.
    page.keyboard.press("u")
    expect(text).to_have_text(seen[-1])
    expect(done).to_have_text("9")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(done).to_have_text("10")
    expect(text).not_to_have_text(seen[-1])
    assert len(_labelled_items(ui_server)) == 10

    # The guidelines are one key away, rendered without running their HTML.
    page.keyboard.press("g")
    expect(page.locator("#guidelines")).to_be_visible()
    expect(page.locator("#guidelines strong")).to_have_text("opinion")
    shoot_sizes(page, "04-label-guidelines")
    assert page.evaluate("window.__xss") is None

    # The tenth label queued a retrain; the worker runs it and the dashboard shows it.
    deadline = time.monotonic() + 90
    admin.reload()
    while int(admin.locator("#round-count").inner_text()) <= rounds_before:
        assert time.monotonic() < deadline, "no new round within 90 s"
        admin.wait_for_timeout(1000)
        admin.reload()
    expect(admin.locator("#rounds tbody tr")).to_have_count(rounds_before + 1)
    expect(admin.locator("#learning-curve svg")).to_have_count(1)
    shoot_sizes(admin, "05-dashboard")


def test_admin_changes_settings_and_guidelines_then_reviewer_corrects(
    login, ui_server, shoot_sizes
) -> None:
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{ui_server.project_id}/settings")
    admin.check("input[name=review_policy][value=all]")
    admin.uncheck("input[name=review_policy][value=none]")
    admin.fill("textarea[name=guidelines]", "# Films v2\n\nSarcasm is **neg**.")
    shoot_sizes(admin, "06-settings")
    admin.click("button[type=submit].primary")
    expect(admin.locator(".ok")).to_contain_text("guidelines version 2 saved")

    page = login("annotator")
    page.goto(ui_server.url + f"/projects/{ui_server.project_id}/label")
    expect(page.locator("#guideline-badge")).to_have_text("guidelines v2")
    page.keyboard.press("g")
    expect(page.locator("#guidelines h1")).to_have_text("Films v2")
    text = page.locator("#item .text")
    for n, key in enumerate(("1", "2", "1"), start=1):
        current = text.inner_text()
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        expect(page.locator("#done-today")).to_have_text(str(10 + n))
        expect(text).not_to_have_text(current)

    reviewer = login("reviewer")
    reviewer.goto(ui_server.url + f"/projects/{ui_server.project_id}/review")
    expect(reviewer.locator("#annotations td").first).to_have_text("annotator")
    expect(reviewer.locator("#annotations td").nth(3)).to_have_text("v2")
    shoot_sizes(reviewer, "07-review")
    first = reviewer.locator("#item .text").inner_text()
    reviewer.keyboard.press("c")
    reviewer.keyboard.press("1")
    reviewer.keyboard.press("Enter")
    expect(reviewer.locator("#reviewed")).to_have_text("1")
    expect(reviewer.locator("#item .text")).not_to_have_text(first)
    second = reviewer.locator("#item .text").inner_text()
    reviewer.keyboard.press("a")
    expect(reviewer.locator("#reviewed")).to_have_text("2")
    expect(reviewer.locator("#item .text")).not_to_have_text(second)
    reviewer.keyboard.press("r")
    expect(reviewer.locator("#note")).to_be_focused()
    reviewer.keyboard.type("the critic is sarcastic: see the guidelines")
    reviewer.keyboard.press("Enter")
    expect(reviewer.locator("#reviewed")).to_have_text("3")

    with ui_server.db.read() as session:
        verdicts = sorted(
            session.execute(
                select(ReviewRow.verdict).where(ReviewRow.project_id == ui_server.project_id)
            ).scalars()
        )
        corrected = session.execute(
            select(ItemRow.final_label, ItemRow.status).where(
                ItemRow.project_id == ui_server.project_id,
                ItemRow.payload["text"].as_string() == first,
            )
        ).one()
    assert verdicts == ["accept", "correct", "reject"]
    assert tuple(corrected) == ("pos", "accepted")


def test_item_browser_and_an_items_whole_history(login, ui_server, shoot_sizes) -> None:
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{ui_server.project_id}/items?status=accepted")
    rows = admin.locator("table.items tbody tr")
    expect(rows).to_have_count(2)
    admin.fill("input[name=annotator]", "annotator")
    admin.select_option("select[name=status]", "")
    admin.press("input[name=annotator]", "Enter")
    expect(admin.locator("#found-count")).to_have_text(re.compile(r"^13 items"))
    shoot_sizes(admin, "08-items")
    page = browse.search_items(ui_server.db, ui_server.project_id, status="accepted")
    item = page.items[0]
    admin.goto(ui_server.url + f"/projects/{ui_server.project_id}/items/{item.id}")
    body = admin.locator("main")
    expect(body).to_contain_text("annotation.submitted")
    expect(body).to_contain_text("review.submitted")
    expect(body).to_contain_text("task.leased")
    shoot_sizes(admin, "09-item-history")


def test_members_and_tokens(login, ui_server, shoot_sizes) -> None:
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{ui_server.project_id}/members")
    expect(admin.locator("main table").first).to_contain_text("reviewer")
    admin.locator("tr", has_text="reviewer").get_by_role("button", name="New token").click()
    expect(admin.locator("#new-secret")).to_have_text(re.compile(r"\S{20,}"))
    shoot_sizes(admin, "10-members")


def test_html_in_an_item_is_shown_as_text_and_never_runs(login, ui_server, shoot_sizes) -> None:
    page = login("annotator")
    page.goto(ui_server.url + f"/projects/{ui_server.xss_project_id}/label")
    expect(page.locator("#item .text")).to_have_text(ui_server.xss_text)
    expect(page.locator("#item-meta")).to_contain_text("<b onmouseover=alert(1)>m</b>")
    assert page.locator("#item img, #item script, #item-meta b").count() == 0
    assert page.evaluate("window.__xss") is None
    shoot_sizes(page, "11-escaping")

    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{ui_server.xss_project_id}/items?q=onerror")
    admin.locator("table.items tbody a").first.click()
    expect(admin.locator("main .item .text")).to_have_text(ui_server.xss_text)
    assert admin.locator("main .item img, main .item script").count() == 0
    assert admin.evaluate("window.__xss") is None


def test_multi_label_keys_toggle_labels(login, ui_server) -> None:
    page = login("annotator")
    page.goto(ui_server.url + f"/projects/{ui_server.tags_project_id}/label")
    expect(page.locator("#item .text")).to_have_text("a green apple")
    for key in ("1", "3", "3", "2"):
        page.keyboard.press(key)
    pressed = page.locator(".label-button[aria-pressed=true]")
    expect(pressed).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator("#item .done")).to_be_visible()
    with ui_server.db.read() as session:
        labels = (
            session.execute(
                select(AnnotationRow.label).where(
                    AnnotationRow.project_id == ui_server.tags_project_id
                )
            )
            .scalars()
            .all()
        )
    assert labels == [["green", "red"]]
