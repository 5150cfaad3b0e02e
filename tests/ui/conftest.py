"""Browser-test fixtures: a real ``labelloop serve`` process on loopback over a SQLite file,
and headless Chromium driven by Playwright.

The server runs with its worker, so retrains happen as in production. Screenshots of each
view go to ``test-artifacts/screenshots/`` at the repository root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from loopback import serving

from labelloop.engine import ingest, projects, users
from labelloop.store.db import Database

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORDS = {"admin": "admin-password", "annotator": "annotator-pw", "reviewer": "reviewer-pw"}
XSS_TEXT = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'
GUIDELINES = "# Films\n\nLabel the **opinion** of the critic.\n\n<script>window.__xss = 3</script>"
N_ITEMS = 60
_WORDS = {
    "pos": ("a joy", "wonderful", "moving", "sharp and funny", "a delight"),
    "neg": ("a bore", "tedious", "clumsy", "flat and dull", "a mess"),
}


@dataclass(frozen=True)
class UiServer:
    """The running service: its URL, database, and the ids of its two projects."""

    url: str
    db: Database
    project_id: int
    xss_project_id: int
    tags_project_id: int
    xss_text: str = XSS_TEXT


def _build(db: Database) -> tuple[int, int]:
    project = projects.create_project(
        db,
        actor="cli:test",
        name="films",
        task_type="classification",
        labels=["pos", "neg"],
        guidelines=GUIDELINES,
        settings={"eval_share": 0.1, "eval_min": 0, "retrain_every": 10, "batch_size": 10},
    )
    records = []
    for n in range(N_ITEMS):
        label = "pos" if n % 2 else "neg"
        word = _WORDS[label][n % 5]
        records.append({"id": f"f{n}", "text": f"Film {n} is {word}.", "meta": {"lang": "en"}})
    ingest.import_items(db, actor="cli:test", project=project.id, records=records)
    xss = projects.create_project(
        db, actor="cli:test", name="escaping", task_type="classification", labels=["a", "b"]
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=xss.id,
        records=[{"id": "x1", "text": XSS_TEXT, "meta": {"note": "<b onmouseover=alert(1)>m</b>"}}],
    )
    tags = projects.create_project(
        db,
        actor="cli:test",
        name="tags",
        task_type="classification",
        labels=["red", "green", "blue"],
        multi_label=True,
        settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0},
    )
    ingest.import_items(
        db, actor="cli:test", project=tags.id, records=[{"id": "t1", "text": "a green apple"}]
    )
    for name, password in PASSWORDS.items():
        users.create_user(
            db,
            actor="cli:test",
            name=name,
            role=name,
            password=password,
            projects=[project.id, xss.id, tags.id],
        )
    return project.id, xss.id, tags.id


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, _sqlite_template) -> Iterator[UiServer]:
    """``labelloop serve`` (with its worker) on a free loopback port over a fresh SQLite file."""
    root = tmp_path_factory.mktemp("ui")
    path = root / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    project_id, xss_id, tags_id = _build(db)
    try:
        with serving(f"sqlite:///{path}", root / "serve.log") as url:
            yield UiServer(
                url=url,
                db=db,
                project_id=project_id,
                xss_project_id=xss_id,
                tags_project_id=tags_id,
            )
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Chromium (Debian's package), one per test session."""
    if CHROMIUM is None:
        pytest.fail("Chromium not found: run `make system-deps`", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def login(browser, ui_server: UiServer) -> Iterator:
    """``login(name)`` -> a page logged in as that user, in a context of its own."""
    contexts = []

    def log_in(name: str):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(30_000)
        # The first dashboard imports scikit-learn and matplotlib: slow on a busy machine.
        context.set_default_navigation_timeout(90_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(ui_server.url + "/")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORDS[name])
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/projects")
        return page

    yield log_in
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def shoot():
    """``shoot(page, name)`` saves a full-page screenshot of the view as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save


@pytest.fixture(scope="session")
def shoot_sizes(shoot):
    """``shoot_sizes(page, name)``: the view at 1280x720 and at 768 px wide, as two
    screenshots (``name-1280.png``, ``name-768.png``); the page's viewport is put back."""

    def save(page, name: str) -> None:
        before = page.viewport_size
        for width, height in ((1280, 720), (768, 1024)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(100)
            shoot(page, f"{name}-{width}")
        page.set_viewport_size(before)

    return save


_NEW_PROJECTS = iter(range(1, 1000))


@pytest.fixture
def new_project(ui_server: UiServer):
    """``new_project(n_items=40, labelled=0, **settings)`` -> the id of a new text project
    of its own (pos/neg films) with the three users as members, so a test's leases and
    labels touch no other test's; ``labelled`` items get their true label first."""

    def make(*, n_items: int = 40, labelled: int = 0, strategy: str = "auto", **settings):
        from labelloop.engine import annotate

        name = f"films-{next(_NEW_PROJECTS)}"
        project = projects.create_project(
            ui_server.db,
            actor="cli:test",
            name=name,
            task_type="classification",
            labels=["pos", "neg"],
            strategy=strategy,
            guidelines="# Films\n\nLabel the critic's opinion.",
            settings={"eval_share": 0, "eval_min": 0, "retrain_every": 0, **settings},
        )
        records = []
        for n in range(n_items):
            label = "pos" if n % 2 else "neg"
            word = _WORDS[label][n % 5]
            records.append({"id": f"{name}-{n}", "text": f"Film {n} is {word}.", "label": label})
        truth = {r["id"]: r.pop("label") for r in records}
        ingest.import_items(ui_server.db, actor="cli:test", project=project.id, records=records)
        for external_id in list(truth)[:labelled]:
            annotate.record_annotation(
                ui_server.db,
                actor="cli:test",
                project=project.id,
                external_id=external_id,
                label=truth[external_id],
            )
        for user in PASSWORDS:
            users.add_member(ui_server.db, actor="cli:test", project=project.id, user=user)
        return project.id

    return make
