"""The suspect labels page in a real browser: a reviewer confirms one and clears one."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from labelloop.engine import ingest, projects, rounds, users
from labelloop.engine.annotate import record_annotation

FLIPPED = ("q3", "q30")


def _flagged_project(db) -> int:
    project = projects.create_project(
        db,
        actor="cli:test",
        name="suspects",
        task_type="classification",
        labels=["pos", "neg"],
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    texts = [f"wonderful lovely film {i}" for i in range(25)]
    texts += [f"awful dreadful film {i}" for i in range(25)]
    ingest.import_items(
        db,
        actor="cli:test",
        project=project.id,
        records=[{"id": f"q{i}", "text": text} for i, text in enumerate(texts)],
    )
    for i in range(50):
        label = "pos" if i < 25 else "neg"
        if f"q{i}" in FLIPPED:
            label = "neg" if label == "pos" else "pos"
        record_annotation(
            db, actor="cli:test", project=project.id, external_id=f"q{i}", label=label
        )
    rounds.train(db, actor="cli:test", project=project.id)
    users.add_member(db, actor="cli:test", user="reviewer", project=project.id)
    return project.id


def test_reviewer_confirms_and_clears_suspects(login, ui_server, shoot_sizes) -> None:
    project_id = _flagged_project(ui_server.db)
    page = login("reviewer")
    page.goto(ui_server.url + f"/projects/{project_id}")
    panel = page.locator("#suspects-panel")
    expect(panel).to_contain_text(re.compile(r"\d+ open"))
    panel.get_by_role("link", name="review them").click()
    table = page.locator("#suspects")
    row = table.locator("tr", has_text=re.compile(r"\bq3\b"))
    expect(row).to_contain_text("neg")
    shoot_sizes(page, "12-suspect-labels")
    row.get_by_role("button", name="Confirm wrong").click()
    expect(page.locator("p.ok")).to_have_text("q3: confirmed")
    expect(table.locator("tr", has_text=re.compile(r"\bq3\b"))).to_have_count(0)
    cleared = page.locator("#suspects tr", has_text=re.compile(r"\bq30\b"))
    cleared.get_by_role("button", name="Clear").click()
    expect(page.locator("p.ok")).to_have_text("q30: cleared")
    expect(page.locator("#precision-at-k")).to_contain_text("50%")
