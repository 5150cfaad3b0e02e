"""The account page and the "not allowed" page in headless Chromium, by keyboard.

Each test makes its own user on the shared server, so the other browser tests' users
and passwords stay as they are.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labelloop.engine import users

pytestmark = pytest.mark.browser


def _own_user(ui_server, name: str, password: str) -> None:
    users.create_user(
        ui_server.db,
        actor="cli:test",
        name=name,
        role="annotator",
        password=password,
        projects=[ui_server.project_id],
    )


def _log_in(browser, ui_server, name: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(ui_server.url + "/")
    # The form's autofocus may land after the first keys on a busy machine: focus it first.
    page.locator("input[name=name]").focus()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    return context, page


def test_a_password_changed_by_keyboard_from_the_account_page(
    browser, ui_server, shoot_sizes
) -> None:
    _own_user(ui_server, "pat", "pats first password")
    context, page = _log_in(browser, ui_server, "pat", "pats first password")
    page.wait_for_url("**/projects")
    # From the top of the page, Tab reaches the account link in the header.
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "/account":
            break
    else:
        pytest.fail("Tab never reached the account link in the header")
    page.keyboard.press("Enter")
    page.wait_for_url("**/account")
    expect(page.locator("h1")).to_have_text("Your account")
    # The current password has the focus; Tab walks the form, Enter sends it.
    page.keyboard.type("pats first password")
    page.keyboard.press("Tab")
    page.keyboard.type("pats second password")
    page.keyboard.press("Tab")
    page.keyboard.type("pats other password")
    page.keyboard.press("Enter")
    expect(page.locator("#confirm_password-error")).to_contain_text("differ")
    shoot_sizes(page, "account-password-mismatch")
    page.keyboard.type("pats first password")
    page.keyboard.press("Tab")
    page.keyboard.type("pats second password")
    page.keyboard.press("Tab")
    page.keyboard.type("pats second password")
    page.keyboard.press("Enter")
    expect(page.locator(".ok")).to_have_text("Password changed. 0 other sessions ended.")
    shoot_sizes(page, "account-password-changed")
    context.close()

    old_context, old = _log_in(browser, ui_server, "pat", "pats first password")
    expect(old.locator(".error")).to_have_text("Wrong name or password.")
    old_context.close()
    new_context, new = _log_in(browser, ui_server, "pat", "pats second password")
    new.wait_for_url("**/projects")
    new_context.close()


def test_an_annotator_on_an_admin_page_is_told_not_allowed(browser, ui_server, shoot_sizes) -> None:
    _own_user(ui_server, "quinn", "quinns password")
    context, page = _log_in(browser, ui_server, "quinn", "quinns password")
    page.wait_for_url("**/projects")
    refused = page.goto(ui_server.url + f"/projects/{ui_server.project_id}/settings")
    assert refused.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text(
        "This page is for admins; you are logged in as quinn, an annotator."
    )
    shoot_sizes(page, "not-allowed")
    # A project quinn is no member of stays unknown, admin page or not.
    hidden = page.goto(ui_server.url + f"/projects/{ui_server.xss_project_id}/settings")
    assert hidden.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    context.close()
