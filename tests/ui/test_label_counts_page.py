"""The dashboard's labels per class in headless Chromium, the rare class marked."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_dashboard_marks_the_class_without_labels_as_rare(
    login, ui_server, new_project, shoot_sizes
):
    project_id = new_project(n_items=12, labelled=1, rare_classes="on")
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{project_id}")
    counts = admin.locator("#label-counts")
    expect(counts.get_by_role("heading", name="Labels per class")).to_be_visible()
    expect(counts.locator("tr.rare")).to_have_count(1)
    expect(counts.locator("tr.rare")).to_contain_text("pos")
    expect(counts.locator("tr.rare .badge")).to_have_text("rare")
    expect(counts.locator("meter").last).to_have_attribute("aria-label", "neg: 1 labels")
    shoot_sizes(admin, "label-counts")


def test_admin_turns_on_rare_classes_and_group_sampling_in_the_settings_form(
    login, ui_server, new_project
) -> None:
    from labelloop.engine.projects.catalog import get_project_info

    project_id = new_project(n_items=6)
    admin = login("admin")
    admin.goto(ui_server.url + f"/projects/{project_id}/settings")
    admin.select_option("select[name=rare_classes]", "on")
    admin.select_option("select[name=group_sampling]", "balance")
    admin.click("button[type=submit].primary")
    expect(admin.locator(".ok")).to_be_visible()
    settings = get_project_info(ui_server.db, project_id).settings
    assert (settings["rare_classes"], settings["group_sampling"]) == ("on", "balance")
