"""The disagreements page in a real browser: an admin turns corrected items into guideline
examples with a note, and the annotator sees them beside the guidelines.

The test has a server and users of its own: its reviews and guideline versions stay out
of the shared server's database, whose tests count reviews across it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from loopback import serving
from playwright.sync_api import expect

from labelloop.engine import annotate, ingest, projects, queue, review, users
from labelloop.store.db import Database

PASSWORD = "guidelines-pw"

IRONIC = [
    "oh brilliant, an ironic sarcastic sequel",
    "sarcastic ironic praise for two wasted hours",
    "ironic applause for a sarcastic bore",
    "so ironic, such sarcastic genius",
]
PLAIN = [
    "a warm moving honest film",
    "warm and moving with honest acting",
    "honest acting in a warm moving story",
    "moving, warm and honest",
]


def _corrected_project(db) -> int:
    project = projects.create_project(
        db,
        actor="cli:test",
        name="irony",
        task_type="classification",
        labels=["pos", "neg"],
        guidelines="# Films\n\nLabel the critic's opinion.",
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, "review_policy": "all"},
    )
    records = [{"id": f"f{i}", "text": t} for i, t in enumerate(IRONIC + PLAIN)]
    ingest.import_items(db, actor="cli:test", project=project.id, records=records)
    for role in ("admin", "annotator", "reviewer"):
        users.create_user(
            db, actor="cli:test", name=role, role=role, password=PASSWORD, projects=[project.id]
        )
    annotator, reviewer = users.get_user(db, "annotator"), users.get_user(db, "reviewer")
    for _ in range(len(IRONIC + PLAIN)):
        task = queue.lease_next_task(db, project_id=project.id, user=annotator)
        annotate.submit_annotation(db, task_id=task.id, user=annotator, label="pos")
    while (
        leased := review.lease_next_review(db, project_id=project.id, user=reviewer)
    ) is not None:
        ironic = leased.item.payload["text"] in IRONIC
        review.submit_review(
            db,
            review_task_id=leased.id,
            user=reviewer,
            verdict="correct" if ironic else "accept",
            label="neg" if ironic else None,
        )
    return project.id


@pytest.fixture(scope="module")
def served(tmp_path_factory, _sqlite_template) -> Iterator[tuple[str, int]]:
    """(url, project id) of a ``labelloop serve`` of this test's own."""
    root = tmp_path_factory.mktemp("guidelines-ui")
    path = root / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    try:
        project_id = _corrected_project(db)
        with serving(f"sqlite:///{path}", root / "serve.log") as url:
            yield url, project_id
    finally:
        db.dispose()


@pytest.fixture
def log_in(browser, served) -> Iterator:
    contexts = []

    def page_of(name: str):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(30_000)
        context.set_default_navigation_timeout(90_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(served[0] + "/")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/projects")
        return page

    yield page_of
    for context in contexts:
        context.close()


def test_admin_picks_examples_and_annotators_see_them(log_in, served, shoot_sizes) -> None:
    url, project_id = served
    page = log_in("admin")
    page.goto(url + f"/projects/{project_id}")
    page.get_by_role("link", name="Disagreements").click()
    group = page.locator("details.group").first
    expect(group.locator("summary")).to_contain_text(
        re.compile(r"pos -> neg: 4 this week \(0 before\), mostly in cluster \d")
    )
    expect(page.locator("#mislabelled")).to_contain_text("4 of 4 items disagreed (100%)")
    expect(page.locator("#version-1")).to_contain_text("50%")  # 4 of 8 labels corrected
    page.locator("#add-examples").click()
    expect(page.locator("p.error")).to_contain_text("pick at least one item")
    group.get_by_label("pick f0").check()
    group.get_by_label("pick f1").check()
    page.locator("#note").fill("Irony flips the words: label what the critic means.")
    shoot_sizes(page, "13-disagreements")
    page.locator("#add-examples").click()
    expect(page.locator("p.ok")).to_have_text("guideline version 2 saved with 2 new examples")
    expect(page.locator("#version-2")).to_contain_text("Irony flips the words")

    annotator = log_in("annotator")
    annotator.goto(url + f"/projects/{project_id}/label")
    expect(annotator.locator("#guideline-badge")).to_have_text("guidelines v2")
    annotator.keyboard.press("g")
    pane = annotator.locator("#guidelines")
    expect(pane).to_be_visible()
    expect(pane.locator(".guidelines-changed")).to_contain_text("Irony flips the words")
    expect(pane.locator(".guideline-examples li")).to_have_count(2)
    expect(pane.locator(".guideline-examples li").first).to_contain_text(IRONIC[0])
    expect(pane.locator(".guideline-examples li").first).to_contain_text("neg")
    shoot_sizes(annotator, "14-guideline-examples")
