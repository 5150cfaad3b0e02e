"""How long the labelling view takes from Enter to the next item painted: a measurement,
not a check.

An annotator labels 30 items by keyboard twice in a fresh project: at a normal pace (a
look at the item, then the label key, then Enter) and with no pause between keys (the
next label key and Enter as soon as the next item is painted). The page itself times
each Enter to the next paint of a new item (``performance.now()`` at the keydown, then
the first animation frame after the item changed); the median and worst of each run are
printed and written to ``test-artifacts/keyboard-latency.json``. Nothing is asserted of
the times (a busy machine is slow); the test checks that all 60 labels were saved.
"""

from __future__ import annotations

import json
import os
import statistics

import pytest
from conftest import SCREENSHOTS
from playwright.sync_api import expect
from sqlalchemy import func, select

from labelloop.store.tables import AnnotationRow

pytestmark = pytest.mark.browser

N_ITEMS = 30
RESULTS = SCREENSHOTS.parent / "keyboard-latency.json"

# Installed before the page's own script: times each Enter to the next item painted.
_TIMER = """
window.__latency = { times: [], painted: 0, queued: 0 };
(() => {
  let pending = null;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    if (pending === null) pending = performance.now(); else window.__latency.queued += 1;
  }, true);
  const watch = () => {
    const item = document.getElementById("item");
    if (!item) { requestAnimationFrame(watch); return; }
    let last = item.textContent;
    new MutationObserver(() => {
      if (item.textContent === last || !item.querySelector(".text")) return;
      last = item.textContent;
      const started = pending;
      pending = null;
      requestAnimationFrame(() => {
        window.__latency.painted += 1;
        if (started !== null) window.__latency.times.push(performance.now() - started);
      });
    }).observe(item, { childList: true, subtree: true, characterData: true });
  };
  document.addEventListener("DOMContentLoaded", watch);
})();
"""


def _label(page, url: str, *, pause_ms: int) -> dict:
    page.add_init_script(_TIMER)
    page.goto(url)
    text = page.locator("#item .text")
    expect(text).to_be_visible()
    for n in range(N_ITEMS):
        shown = text.inner_text()
        if pause_ms:
            page.wait_for_timeout(pause_ms)
        page.keyboard.press("1" if n % 2 else "2")
        if pause_ms:
            page.wait_for_timeout(pause_ms // 2)
        page.keyboard.press("Enter")
        expect(text).not_to_have_text(shown)
    page.wait_for_function(f"window.__latency.times.length >= {N_ITEMS}")
    times = page.evaluate("window.__latency.times")[:N_ITEMS]
    return {
        "items": len(times),
        "median_ms": round(statistics.median(times), 1),
        "worst_ms": round(max(times), 1),
        "enters_while_waiting": page.evaluate("window.__latency.queued"),
    }


def test_enter_to_next_item_painted_over_30_items(login, ui_server, new_project) -> None:
    measured = {}
    for mode, pause_ms in (("normal pace", 600), ("no pause", 0)):
        project_id = new_project(n_items=N_ITEMS + 10)
        page = login("annotator")
        url = ui_server.url + f"/projects/{project_id}/label"
        measured[mode] = _label(page, url, pause_ms=pause_ms)
        # The last submit's write is done once the page counts all labels.
        expect(page.locator("#done-today")).to_have_text(str(N_ITEMS))
        with ui_server.db.read() as session:
            saved = session.execute(
                select(func.count())
                .select_from(AnnotationRow)
                .where(AnnotationRow.project_id == project_id)
            ).scalar_one()
        assert saved == N_ITEMS
    measured["load_average_1min"] = round(os.getloadavg()[0], 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(measured, indent=2) + "\n")
    for mode in ("normal pace", "no pause"):
        row = measured[mode]
        median, worst = row["median_ms"], row["worst_ms"]
        print(f"{mode}: median {median} ms, worst {worst} ms, {row['items']} items")
