"""The fairness page in headless Chromium: groups as bars, flags in words, a narrow screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labelloop.engine import projects

pytestmark = pytest.mark.browser


def test_fairness_page_shows_each_group_and_its_flags(login, ui_server, shoot) -> None:
    projects.update_settings(
        ui_server.db, actor="cli:test", project=ui_server.project_id,
        changes={"group_fields": ["lang"]},
    )  # fmt: skip
    reviewer = login("reviewer")
    reviewer.goto(ui_server.url + f"/projects/{ui_server.project_id}")
    reviewer.get_by_role("link", name="Fairness").click()
    expect(reviewer.get_by_role("heading", name="lang")).to_be_visible()
    row = reviewer.locator("tbody tr", has_text="en")
    expect(row).to_contain_text("100.0%")  # every item of the pool is "en"
    expect(row.locator(".bar").first).to_have_attribute("aria-label", "share of the pool 100.0%")
    shoot(reviewer, "fairness-1280")
    reviewer.set_viewport_size({"width": 768, "height": 900})
    wrap = reviewer.locator(".table-wrap").first
    assert wrap.evaluate("e => e.scrollWidth >= e.clientWidth")
    assert reviewer.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shoot(reviewer, "fairness-768")


def test_annotators_have_no_fairness_page(login, ui_server) -> None:
    annotator = login("annotator")
    annotator.goto(ui_server.url + f"/projects/{ui_server.project_id}/fairness")
    expect(annotator.get_by_role("heading", name="lang")).to_have_count(0)
