"""Entity projects in headless Chromium against a real ``labelloop serve``: spans made by
keyboard only and by mouse only, the model's spans accepted (all with A, one with Y), spans
stepped through with Tab and removed with Delete, an overlap refused with a notice, an
empty submit, a reopened label changed, a reviewer's correction with the same editor, and
the item page's spans. Each view is shot at 1280x720 and 768 px.

Each test works in an entity project of its own.
"""

from __future__ import annotations

import itertools

import pytest
from loopback import serving
from playwright.sync_api import expect
from sqlalchemy import select

from labelloop.demo import DEMO_USERS, build_demo
from labelloop.engine import ingest, projects, users
from labelloop.server.web import label_text, span_pieces
from labelloop.store.tables import (
    AnnotationRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    TaskRow,
)

pytestmark = pytest.mark.browser

TYPES = ["person", "geo-loc", "company"]
TWEETS = [
    "Anna Smith flew to New York with Google today",
    "Paris is lovely in spring says Tom",
    "nothing to see here at all",
    "Microsoft opened an office in Berlin",
]
_NAMES = itertools.count(1)


def _ner_project(ui_server, *, suggestions: bool = False, **settings) -> int:
    """A new entity project with the four tweets (in order), the three users as members;
    with ``suggestions``, a client model's spans for every tweet."""
    project = projects.create_project(
        ui_server.db,
        actor="cli:test",
        name=f"tweets-{next(_NAMES)}",
        task_type="ner",
        labels=TYPES,
        guidelines="# Entities\n\nMark people, places and companies.",
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, **settings},
    )
    ingest.import_items(
        ui_server.db,
        actor="cli:test",
        project=project.id,
        records=[{"id": f"t{n}", "text": text} for n, text in enumerate(TWEETS)],
    )
    for user in ("admin", "annotator", "reviewer"):
        users.add_member(ui_server.db, actor="cli:test", project=project.id, user=user)
    # The tweets come in the order written (the cold start's order is a shuffle).
    with ui_server.db.transaction() as session:
        tasks = session.execute(
            select(TaskRow).where(TaskRow.project_id == project.id).order_by(TaskRow.item_id)
        ).scalars()
        for n, task in enumerate(tasks):
            task.priority = -0.1 * (n + 1)
    if suggestions:
        _predict(ui_server, project.id)
    return project.id


def _spans_of(text: str, *found: tuple[str, str]) -> list[dict]:
    spans = []
    for words, label in found:
        start = text.index(words)
        spans.append({"start": start, "end": start + len(words), "label": label})
    return spans


MODEL_SPANS = {
    0: (("Anna Smith", "person"), ("New York", "geo-loc"), ("Google", "company")),
    1: (("Paris", "geo-loc"),),
    3: (("Microsoft", "company"), ("Berlin", "geo-loc")),
}


def _predict(ui_server, project_id: int) -> None:
    """A client model's spans with scores, written as a round would write them."""
    with ui_server.db.transaction() as session:
        version = ModelVersionRow(project_id=project_id, version=1, kind="client", name="tagger")
        session.add(version)
        session.flush()
        items = session.execute(
            select(ItemRow).where(ItemRow.project_id == project_id).order_by(ItemRow.id)
        ).scalars()
        for n, item in enumerate(items):
            spans = _spans_of(item.payload["text"], *MODEL_SPANS.get(n, ()))
            session.add(
                PredictionRow(
                    project_id=project_id,
                    item_id=item.id,
                    model_version_id=version.id,
                    probabilities={},
                    score=0.5,
                    structure=[{**span, "score": 0.8} for span in spans],
                )
            )


def _stored(ui_server, project_id: int) -> dict[str, list]:
    """The active annotations' spans by the item's text."""
    with ui_server.db.read() as session:
        rows = session.execute(
            select(ItemRow.payload, AnnotationRow.label)
            .join(AnnotationRow, AnnotationRow.item_id == ItemRow.id)
            .where(AnnotationRow.project_id == project_id, AnnotationRow.status == "active")
        ).all()
    return {payload["text"]: label for payload, label in rows}


def _open(page, ui_server, project_id: int, text: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(ui_server.url + f"/projects/{project_id}/label")
    expect(page.locator("#item .ner-text .tok").first).to_be_visible()
    expect(page.locator("#item .ner-text")).to_contain_text(text.split()[0])


def _token(page, words: str):
    return page.locator("#item .ner-text .tok", has_text=words).first


def _saved(page, external_id: str) -> None:
    """Wait until the submit of ``external_id`` is stored: the next item shows at once,
    while the write goes on; the recent labels list it once it is done."""
    expect(page.locator("#history-list")).to_contain_text(external_id)


def _submit_and_wait(page, *, more: bool = True) -> None:
    """Enter, then the next item's tokens (keys act once the editor holds them)."""
    shown = page.locator("#item-meta").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator("#item-meta")).not_to_have_text(shown)
    if more:
        expect(page.locator("#item .ner-text .tok").first).to_be_visible()


def test_label_entities_by_keyboard_only(login, ui_server, shoot_sizes) -> None:
    project_id = _ner_project(ui_server)
    page = login("annotator")
    _open(page, ui_server, project_id, TWEETS[0])
    expect(page.locator("#labels .label-button.ent-key")).to_have_count(3)
    # "Anna Smith": the first token, extended by one, is a person.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#item .tok.selected")).to_have_count(2)
    page.keyboard.press("1")
    expect(page.locator("#item mark.ent")).to_have_count(1)
    expect(page.locator("#item mark.ent").first).to_have_attribute("data-label", "person")
    # "New York" (tokens 4 and 5) is a place.
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("2")
    # "Google" (token 7) is a company, then changed to a place and back by its number key.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("3")
    expect(page.locator("#item mark.ent")).to_have_count(3)
    # An overlap is refused, with a notice: "York with" overlaps "New York".
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")
    expect(page.locator("#notice")).to_contain_text("overlaps the geo-loc “New York”")
    expect(page.locator("#item mark.ent")).to_have_count(3)
    shoot_sizes(page, "80-ner-label-keyboard")
    # An entity grows by Shift+arrows from it: "Google today" replaces "Google"; to shrink
    # it back, Delete it and select "Google" again.
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#item mark.ent.focused")).to_contain_text("Google")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("3")
    expect(page.locator("#notice")).to_contain_text(
        "“Google today” company replaces “Google” company"
    )
    expect(page.locator("#item mark.ent.focused")).to_contain_text("Google today")
    page.keyboard.press("Delete")
    expect(page.locator("#item mark.ent")).to_have_count(2)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("3")
    expect(page.locator("#item mark.ent")).to_have_count(3)
    expect(page.locator("#item mark.ent.focused")).to_contain_text("Google")
    expect(page.locator("#item mark.ent.focused")).not_to_contain_text("today")
    # Tab steps through the entities; Shift+Tab goes back; Delete removes the one in focus.
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.locator("#item mark.ent.focused")).to_have_attribute("data-label", "person")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#item mark.ent.focused")).to_contain_text("Google")
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#item mark.ent.focused")).to_contain_text("New York")
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    expect(page.locator("#item mark.ent")).to_have_count(2)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Backspace")
    expect(page.locator("#item mark.ent")).to_have_count(1)
    # Back to the company by keys alone: Esc leaves the cursor, then "Google" again.
    page.keyboard.press("Escape")
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("3")
    _submit_and_wait(page)
    # The next tweet has no entity: Enter submits an empty list.
    _submit_and_wait(page)
    _saved(page, "t1")
    text = TWEETS[0]
    stored = _stored(ui_server, project_id)
    assert stored[text] == _spans_of(text, ("Anna Smith", "person"), ("Google", "company"))
    assert stored[TWEETS[1]] == []
    # The recent labels name the entities in words; one reopens into the editor (H, ↓,
    # Enter), gets "Paris" as a place, and Enter saves the change.
    history = page.locator("#history-list")
    expect(history).to_contain_text("“Anna Smith” person · “Google” company")
    page.keyboard.press("h")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(page.locator(".history-entry").first).to_be_focused()
    expect(page.locator(".history-entry").first).to_contain_text("no entities")
    page.keyboard.press("Enter")
    expect(page.locator("#editing")).to_contain_text("Changing your entities of t1")
    expect(page.locator("#item .ner-text .tok").first).to_have_text("Paris")
    page.locator("#item").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("Changed your entities of t1: “Paris” geo-loc")
    assert _stored(ui_server, project_id)[TWEETS[1]] == _spans_of(TWEETS[1], ("Paris", "geo-loc"))


def test_label_entities_by_mouse_only(login, ui_server, shoot_sizes) -> None:
    project_id = _ner_project(ui_server)
    page = login("annotator")
    _open(page, ui_server, project_id, TWEETS[0])

    def drag(first: str, last: str) -> None:
        a, b = _token(page, first).bounding_box(), _token(page, last).bounding_box()
        page.mouse.move(a["x"] + 2, a["y"] + a["height"] / 2)
        page.mouse.down()
        page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=5)
        page.mouse.move(b["x"] + b["width"] - 2, b["y"] + b["height"] / 2)
        page.mouse.up()

    # A drag from inside "Anna" to inside "Smith" snaps to both whole tokens.
    drag("Anna", "Smith")
    expect(page.locator("#item .tok.selected")).to_have_count(2)
    page.locator("#labels .label-button", has_text="person").click()
    drag("New", "York")
    page.locator("#labels .label-button", has_text="geo-loc").click()
    _token(page, "Google").click()
    page.locator("#labels .label-button", has_text="geo-loc").click()
    expect(page.locator("#item mark.ent")).to_have_count(3)
    # The wrong one is removed by its own button, and made again as a company.
    page.locator("#item mark.ent", has_text="Google").locator(".ent-action").click()
    expect(page.locator("#item mark.ent")).to_have_count(2)
    _token(page, "Google").click()
    page.locator("#labels .label-button", has_text="company").click()
    # A drag over an entity and beyond is refused.
    drag("York", "with")
    page.locator("#labels .label-button", has_text="person").click()
    expect(page.locator("#notice")).to_contain_text("entities may not overlap")
    shoot_sizes(page, "81-ner-label-mouse")
    shown = page.locator("#item-meta").inner_text()
    page.locator("#submit").click()
    expect(page.locator("#item-meta")).not_to_have_text(shown)
    _saved(page, "t0")
    text = TWEETS[0]
    assert _stored(ui_server, project_id)[text] == _spans_of(
        text, ("Anna Smith", "person"), ("New York", "geo-loc"), ("Google", "company")
    )


def test_accept_the_models_entities(login, ui_server, shoot_sizes) -> None:
    project_id = _ner_project(ui_server, suggestions=True)
    page = login("annotator")
    _open(page, ui_server, project_id, TWEETS[0])
    suggested = page.locator("#item mark.ent.suggestion")
    expect(suggested).to_have_count(3)
    shoot_sizes(page, "82-ner-suggestions")
    # A accepts them all; one is corrected (Tab to it, a number key), then submitted.
    page.keyboard.press("a")
    expect(suggested).to_have_count(0)
    expect(page.locator("#item mark.ent")).to_have_count(3)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#item mark.ent.focused")).to_contain_text("Google")
    page.keyboard.press("2")
    _submit_and_wait(page)
    # Next tweet: Y accepts the one in focus; a dismissed one is gone.
    expect(suggested).to_have_count(1)
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    expect(suggested).to_have_count(0)
    _submit_and_wait(page)
    # The third has none; the fourth: one accepted by Y, one dismissed by Delete.
    _submit_and_wait(page)
    expect(suggested).to_have_count(2)
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    expect(page.locator("#item mark.ent:not(.suggestion)")).to_have_count(1)
    page.keyboard.press("?")
    overlay = page.locator("#keys-overlay")
    for words in (
        "extend the selection",
        "step to the next",
        "remove the entity",
        "accept the model's suggestion",
        "accept all the model's",
    ):
        expect(overlay).to_contain_text(words)
    shoot_sizes(page, "83-ner-keys-overlay")
    page.keyboard.press("Escape")
    _submit_and_wait(page, more=False)
    expect(page.locator("#item")).to_contain_text("Nothing left to label")
    stored = _stored(ui_server, project_id)
    assert stored[TWEETS[0]] == _spans_of(
        TWEETS[0], ("Anna Smith", "person"), ("New York", "geo-loc"), ("Google", "geo-loc")
    )
    assert stored[TWEETS[1]] == _spans_of(TWEETS[1], ("Paris", "geo-loc"))
    assert stored[TWEETS[2]] == []
    assert stored[TWEETS[3]] == _spans_of(TWEETS[3], ("Berlin", "geo-loc"))


def test_review_corrects_entities_and_the_item_page_shows_them(
    login, ui_server, shoot_sizes
) -> None:
    project_id = _ner_project(ui_server, suggestions=True, review_policy="all")
    page = login("annotator")
    _open(page, ui_server, project_id, TWEETS[0])
    # The annotator marks only "Anna Smith", as a place (wrong).
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("2")
    _submit_and_wait(page)
    _saved(page, "t0")

    reviewer = login("reviewer")
    reviewer.set_viewport_size({"width": 1280, "height": 720})
    reviewer.goto(ui_server.url + f"/projects/{project_id}/review")
    rows = reviewer.locator("#annotations")
    expect(rows.locator("mark.ent")).to_have_count(1)
    expect(rows).to_contain_text("annotator")
    expect(reviewer.locator("#model-guess mark.ent")).to_have_count(3)
    shoot_sizes(reviewer, "84-ner-review")
    # C opens the editor on the annotator's spans; the reviewer fixes the type, accepts
    # the model's other two and saves.
    reviewer.keyboard.press("c")
    editor = reviewer.locator("#item .ner-text")
    expect(editor.locator("mark.ent:not(.suggestion)")).to_have_count(1)
    expect(editor.locator("mark.ent.suggestion")).to_have_count(2)
    reviewer.keyboard.press("Tab")
    reviewer.keyboard.press("1")
    reviewer.keyboard.press("a")
    expect(editor.locator("mark.ent.suggestion")).to_have_count(0)
    shoot_sizes(reviewer, "85-ner-review-correct")
    reviewer.keyboard.press("Enter")
    expect(reviewer.locator("#notice")).to_contain_text("correct")
    with ui_server.db.read() as session:
        item = session.execute(
            select(ItemRow).where(ItemRow.project_id == project_id, ItemRow.external_id == "t0")
        ).scalar_one()
    assert item.final_label == _spans_of(
        TWEETS[0], ("Anna Smith", "person"), ("New York", "geo-loc"), ("Google", "company")
    )

    admin = login("admin")
    admin.set_viewport_size({"width": 1280, "height": 720})
    admin.goto(ui_server.url + f"/projects/{project_id}/items/{item.id}")
    final = admin.locator("#final-spans")
    expect(final.locator("mark.ent")).to_have_count(3)
    expect(final.locator("mark.ent").first).to_contain_text("Anna Smith")
    expect(admin.locator("#predictions mark.ent")).to_have_count(3)
    # The annotator's one span, then the reviewer's correction as a label of its own.
    first = admin.locator("#annotations-table tbody tr").first
    expect(first.locator("mark.ent")).to_have_count(1)
    expect(first.locator("mark.ent")).to_have_attribute("data-label", "geo-loc")
    expect(admin.locator("#annotations-table mark.ent")).to_have_count(4)
    shoot_sizes(admin, "86-ner-item-page")
    # The item browser names the final entities' types; the annotator's feedback page
    # puts their spans and the reviewer's in words.
    admin.goto(ui_server.url + f"/projects/{project_id}/items")
    expect(admin.locator("tbody")).to_contain_text("person · geo-loc · company")
    page.goto(ui_server.url + f"/projects/{project_id}/feedback")
    expect(page.locator(".your-label")).to_have_text("“Anna Smith” geo-loc")
    expect(page.locator(".reviewer-label")).to_have_text(
        "“Anna Smith” person · “New York” geo-loc · “Google” company"
    )


def test_label_text_and_span_pieces() -> None:
    spans = [{"start": 9, "end": 14, "label": "LOC"}, {"start": 0, "end": 5, "label": "PER"}]
    assert label_text(spans, "Alice in Paris") == "“Paris” LOC · “Alice” PER"
    assert label_text(spans) == "LOC · PER"
    assert (label_text(["a", "b"]), label_text([]), label_text(None)) == ("a, b", "–", "–")
    pieces = span_pieces("Alice in Paris", spans, ["PER", "LOC"])
    assert [(p["text"], p["label"]) for p in pieces] == [
        ("Alice", "PER"), (" in ", None), ("Paris", "LOC")
    ]  # fmt: skip
    assert pieces[0]["hue"] != pieces[2]["hue"]
    # A span off the text, or overlapping one before it, is left out; the text stays whole.
    odd = [{"start": 0, "end": 5, "label": "PER"}, {"start": 3, "end": 40, "label": "LOC"}]
    assert "".join(p["text"] for p in span_pieces("Alice in Paris", odd)) == "Alice in Paris"
    assert span_pieces(None, spans) == []


def test_the_wnut_demo_draws_the_models_entities(browser, tmp_path, shoot_sizes) -> None:
    """``labelloop demo --dataset wnut`` served: the annotator's label page shows a tweet as
    tokens with the 10 entity types as keys, and the CRF's spans as suggestions."""
    info = build_demo(tmp_path / "labelloop.db", actor="cli:test", dataset="wnut", n_items=200)
    with serving(info.db_url, tmp_path / "serve.log") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.set_default_timeout(30_000)
        try:
            page = context.new_page()
            page.goto(url + "/")
            name, _role, password = next(u for u in DEMO_USERS if u[0] == "annotator")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", password)
            page.press("input[name=password]", "Enter")
            page.wait_for_url("**/projects")
            page.goto(url + f"/projects/{info.project_id}/label")
            expect(page.locator("#item .ner-text .tok").first).to_be_visible()
            expect(page.locator("#labels .label-button.ent-key")).to_have_count(10)
            # Tweets without a suggestion are skipped over until the model drew on one.
            for _ in range(60):
                page.wait_for_timeout(300)  # the guess comes after the tokens
                if page.locator("#item mark.ent.suggestion").count():
                    break
                page.keyboard.press("s")
                page.keyboard.press("1")
                expect(page.locator("#item .ner-text .tok").first).to_be_visible()
            expect(page.locator("#item mark.ent.suggestion").first).to_be_visible()
            shoot_sizes(page, "87-ner-demo-wnut")
        finally:
            context.close()
