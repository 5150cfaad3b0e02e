// The labelling view: one task at a time, keyboard first. Item data is only ever set as text.
"use strict";
(() => {
  const { api, el, labelText, renderItem, notice, typing, config } = labelloop;
  const P = config.project_id;
  const $ = (id) => document.getElementById(id);
  const itemBox = $("item"), metaBox = $("item-meta"), submitButton = $("submit"), undoButton = $("undo");
  const skipForm = $("skip-form"), skipReason = $("skip-reason"), guessBox = $("guess");
  const guidelinesPane = $("guidelines");
  const labelButtons = Array.from(document.querySelectorAll("#labels .label-button"));

  let current = null;      // the task on screen
  const upcoming = [];     // tasks leased ahead, shown next in this order
  let fetchingAhead = null;
  let saving = Promise.resolve();  // submits and skips, sent one after another
  let shownAt = 0;
  let busy = false;
  let idempotencyKey = null;
  let guidelineVersion = config.guideline_version;
  const undoStack = [];    // {annotationId, itemId} of this session's submits, newest last
  const chosen = new Set();

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(36).slice(2);
  }

  // This tab's name for its leases: kept over a reload (sessionStorage is per tab), so a
  // reload gets its own tasks back while another tab of the same person gets others. A tab
  // duplicated with its storage finds the name's lock taken and picks a new one.
  const holderKey = `labelloop-holder-${P}`;
  // A reloaded page may ask before its previous document let go of the lock: wait a
  // moment for it; a live tab holding the name never lets go, so the wait then ends.
  function claim(name, waitMs) {
    if (!(navigator.locks && navigator.locks.request)) return Promise.resolve(name);
    const options = window.AbortSignal && AbortSignal.timeout ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    return new Promise((resolve) => {
      navigator.locks.request(`labelloop-tab-${name}`, options, (lock) => {
        resolve(lock ? name : null);
        return lock ? new Promise(() => {}) : null;  // held for the page's life
      }).catch(() => resolve(null));
    });
  }
  const holderReady = (async () => {
    let stored = null;
    try { stored = sessionStorage.getItem(holderKey); } catch (error) { /* storage off */ }
    const name = (stored && await claim(stored, 1500)) || await claim(newKey(), 1500);
    try { sessionStorage.setItem(holderKey, name); } catch (error) { /* storage off */ }
    return encodeURIComponent(name);
  })();

  function setBusy(value) {
    busy = value;
    itemBox.classList.toggle("busy", value);
    refreshButtons();
  }

  function refreshButtons() {
    submitButton.disabled = busy || !current || chosen.size === 0;
    undoButton.disabled = busy || undoStack.length === 0;
    for (const button of labelButtons) button.setAttribute("aria-pressed", chosen.has(button.dataset.label) ? "true" : "false");
  }

  function show(task) {
    current = task;
    chosen.clear();
    guessBox.hidden = true;
    guessBox.replaceChildren();
    closeSkip();
    if (!task) {
      itemBox.replaceChildren(el("p", { class: "done" }, "Nothing left to label for you right now."),
        el("p", { class: "muted" }, "New items come with the next round; this page looks again every 15 seconds."));
      metaBox.textContent = "";
      refreshButtons();
      setTimeout(() => { if (!current && !busy) loadNext(); }, 15000);
      return;
    }
    renderItem(itemBox, metaBox, task.item, config.task_type);
    if (task.reason) metaBox.append(el("span", { class: "reason" }, " · why this item: " + task.reason));
    shownAt = performance.now();
    idempotencyKey = newKey();
    refreshButtons();
    itemBox.focus({ preventScroll: true });
    fetchAhead();
  }

  // Lease the task after this one now, so the next item appears with no wait.
  function fetchAhead() {
    if (upcoming.length || fetchingAhead || !current) return;
    // After the pending writes: the server counts the task just submitted as held till then.
    fetchingAhead = saving
      .then(() => holderReady)
      .then((holder) => api("POST", `/projects/${P}/tasks/ahead?holder=${holder}`))
      .then((task) => {
        if (task && task.id !== (current && current.id) && !upcoming.some((t) => t.id === task.id)) {
          upcoming.push(task);
          if (task.item.media_url && config.task_type === "image") new Image().src = task.item.media_url;
        }
      })
      .catch(() => {})
      .finally(() => { fetchingAhead = null; });
  }

  async function nextTask() {
    if (!upcoming.length && fetchingAhead) await fetchingAhead;
    if (upcoming.length) return upcoming.shift();
    return api("POST", `/projects/${P}/tasks/next?holder=${await holderReady}`);
  }

  async function loadNext() {
    setBusy(true);
    try {
      show(await nextTask());
    } catch (error) {
      notice("Could not load the next task: " + error.message);
    } finally {
      setBusy(false);
    }
    refreshSide();
  }

  // Send a write after the ones before it; show the next task at once when one is leased
  // ahead, else once the write is done (the server then answers the next task).
  function advance(write) {
    saving = saving.then(write);
    if (upcoming.length) {
      show(upcoming.shift());
      return;
    }
    setBusy(true);
    saving
      .then(nextTask)
      .then(show, (error) => notice("Could not load the next task: " + error.message))
      .finally(() => setBusy(false));
  }

  async function refreshSide() {
    try {
      const progress = await api("GET", `/projects/${P}/progress/me`);
      $("done-today").textContent = labelloop.formatCount(progress.done_today);
      $("agreement").textContent = progress.review_agreement === null
        ? "n/a" : Math.round(100 * progress.review_agreement) + "% of " + labelloop.formatCount(progress.reviewed);
    } catch (error) {
      // The counters are a courtesy: labelling goes on without them.
    }
    await listen();
  }

  // While the page sits open it asks the cheap pulse every few seconds: a new guideline
  // version is announced at once, and the header's count of unread feedback stays true.
  const PULSE_MS = 10000;
  async function listen() {
    try {
      const pulse = await api("GET", `/projects/${P}/pulse`);
      const count = $("feedback-count");
      if (count) {
        count.textContent = labelloop.formatCount(pulse.unread_feedback);
        count.setAttribute("aria-label", pulse.unread_feedback + " unread");
        count.hidden = pulse.unread_feedback === 0;
      }
      if (pulse.guideline_version !== guidelineVersion) await loadGuidelines(pulse.guideline_version);
    } catch (error) {
      // Asked again at the next beat.
    }
  }
  setInterval(() => { if (!document.hidden) listen(); }, PULSE_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) listen(); });

  async function loadGuidelines(version) {
    const response = await fetch(`/projects/${P}/guidelines`, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const body = doc.querySelector(".guidelines-body");
    if (!body) return;
    $("guidelines-content").replaceChildren(document.adoptNode(body));
    guidelineVersion = version;
    $("guideline-badge").textContent = "guidelines v" + version;
    notice(`The guidelines changed (version ${version}): press G to read them.`);
  }

  function pick(index) {
    const button = labelButtons[index];
    if (!button || !current || busy) return;
    const label = button.dataset.label;
    if (config.multi_label) {
      if (chosen.has(label)) chosen.delete(label); else chosen.add(label);
    } else {
      chosen.clear();
      chosen.add(label);
    }
    refreshButtons();
  }

  function submit() {
    if (!current || busy || chosen.size === 0) return;
    const task = current;
    const key = idempotencyKey;
    const body = config.multi_label ? { labels: Array.from(chosen) } : { label: Array.from(chosen)[0] };
    body.time_spent_ms = Math.max(0, Math.round(performance.now() - shownAt));
    notice("");
    advance(() => api("POST", `/tasks/${task.id}/annotations`, body, { "Idempotency-Key": key })
      .then((made) => {
        undoStack.push({ annotationId: made.id, itemId: task.item.id });
        refreshButtons();
        refreshSide();
      }, (error) => notice(`Not saved (${task.item.external_id}): ${error.message}`)));
  }

  function openSkip() {
    if (!current || busy) return;
    skipForm.hidden = false;
    skipReason.value = "";
    skipReason.focus();
  }

  function closeSkip() {
    skipForm.hidden = true;
    if (document.activeElement === skipReason) itemBox.focus({ preventScroll: true });
  }

  function skip(reason) {
    if (!current || busy) return;
    const task = current;
    closeSkip();
    notice("Skipped.");
    advance(() => api("POST", `/tasks/${task.id}/skip`, { reason: reason || "no reason given" })
      .catch((error) => notice(`Could not skip ${task.item.external_id}: ${error.message}`)));
  }

  async function undo() {
    if (busy) return;
    setBusy(true);
    await saving;
    const last = undoStack.pop();
    if (!last) { setBusy(false); return; }
    try {
      await api("POST", `/annotations/${last.annotationId}/undo`);
      const again = await api("POST", `/annotations/${last.annotationId}/relabel?holder=${await holderReady}`);
      if (current && current.id !== again.id) upcoming.unshift(current);
      show(again);
      notice("Undone: label this item again.");
    } catch (error) {
      notice("Cannot undo: " + error.message);
    } finally {
      setBusy(false);
    }
    refreshSide();
  }

  async function toggleGuess() {
    if (!guessBox || !current) return;
    if (!guessBox.hidden) { guessBox.hidden = true; return; }
    guessBox.hidden = false;
    guessBox.textContent = "asking the model…";
    try {
      const guess = await api("GET", `/projects/${P}/items/${current.item.id}/guess`);
      guessBox.textContent = guess
        ? `Model version ${guess.model_version} guesses “${labelText(guess.label)}” with ${Math.round(100 * guess.confidence)}% confidence.`
        : "No model has scored this item yet.";
    } catch (error) {
      guessBox.textContent = "No guess: " + error.message;
    }
  }

  function toggleGuidelines() {
    guidelinesPane.hidden = !guidelinesPane.hidden;
    if (!guidelinesPane.hidden) notice("");
  }

  labelButtons.forEach((button, index) => button.addEventListener("click", () => pick(index)));
  submitButton.addEventListener("click", submit);
  undoButton.addEventListener("click", undo);
  $("skip").addEventListener("click", openSkip);
  $("skip-cancel").addEventListener("click", closeSkip);
  $("guidelines-toggle").addEventListener("click", toggleGuidelines);
  if ($("guess-toggle")) $("guess-toggle").addEventListener("click", toggleGuess);
  skipForm.addEventListener("submit", (event) => { event.preventDefault(); skip(skipReason.value.trim()); });
  skipForm.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); closeSkip(); } });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    const key = event.key;
    if (/^[0-9]$/.test(key)) { pick(key === "0" ? 9 : Number(key) - 1); event.preventDefault(); }
    else if (key === "Enter") { submit(); event.preventDefault(); }
    else if (key === "s" || key === "S") { openSkip(); event.preventDefault(); }
    else if (key === "u" || key === "U") { undo(); event.preventDefault(); }
    else if (key === "g" || key === "G") { toggleGuidelines(); event.preventDefault(); }
    else if ((key === "m" || key === "M") && config.show_guess) { toggleGuess(); event.preventDefault(); }
    else if (key === "Escape") { guidelinesPane.hidden = true; if (guessBox) guessBox.hidden = true; }
  });

  loadNext();
})();
