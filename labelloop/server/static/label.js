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
  const reasonButtons = Array.from(document.querySelectorAll("#skip-form .skip-reason"));
  const unsureButton = $("unsure"), commentForm = $("comment-form"), commentInput = $("comment");
  const historyList = $("history-list"), editingLine = $("editing"), keysOverlay = $("keys-overlay");
  const changesBox = $("guideline-changes");
  // Box projects: boxes.js draws on the image, and the label is the list of boxes drawn.
  const boxes = config.task_type === "boxes"
    ? labelloop.createBoxEditor(itemBox, { status: $("box-status"), onChange: () => refreshButtons() }) : null;
  const isImage = config.task_type === "image" || boxes !== null;

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
  let unsure = false;
  let comment = "";
  let editing = null;      // a recent label reopened to change it, shown instead of `current`
  let recent = [];         // the annotator's recent labels, from the server
  // An entity project labels spans of the text: the span editor holds them.
  const ner = config.task_type === "ner";
  const editor = ner ? labelloop.spanEditor({ labels: config.labels, notice, onChange: () => refreshButtons() }) : null;
  if (editor) editor.paintLegend(labelButtons);

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
    // An entity project may submit no spans at all (the item has no entities), a box
    // project no boxes (nothing in the image).
    const empty = !ner && !boxes && chosen.size === 0;
    submitButton.disabled = busy || !current || empty;
    undoButton.disabled = busy || undoStack.length === 0;
    for (const button of labelButtons) button.setAttribute("aria-pressed", chosen.has(button.dataset.label) ? "true" : "false");
    if (editing) submitButton.disabled = busy || empty;
    unsureButton.setAttribute("aria-pressed", unsure ? "true" : "false");
    $("comment-shown").textContent = comment ? "comment: " + comment : "";
  }

  function clearFlags() {
    unsure = false;
    comment = "";
    commentForm.hidden = true;
  }

  function show(task) {
    current = task;
    editing = null;
    editingLine.hidden = true;
    chosen.clear();
    clearFlags();
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
    imageView.attach();
    if (boxes) boxes.load([], config.show_guess ? askGuess(task) : null);
    if (ner) { spansOf = null; showSpans(task, task.item.id, task.item.payload, []); }
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
          if (ner) { askTokens(task.item.id).catch(() => {}); if (config.show_guess) askGuess(task).catch(() => {}); }
          if (task.item.media_url && isImage) new Image().src = task.item.media_url;
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

  // After a submit the counters and the history wait for a lull: while labelling fast,
  // their reads would only compete with the next task's lease.
  let sideTimer = null;
  function refreshSideSoon() {
    clearTimeout(sideTimer);
    sideTimer = setTimeout(refreshSide, 800);
  }

  async function refreshSide() {
    try {
      const progress = await api("GET", `/projects/${P}/progress/me`);
      $("done-today").textContent = labelloop.formatCount(progress.done_today);
      $("agreement").textContent = progress.review_agreement === null
        ? "n/a" : Math.round(100 * progress.review_agreement) + "% of " + labelloop.formatCount(progress.reviewed);
      showPace(progress);
    } catch (error) {
      // The counters are a courtesy: labelling goes on without them.
    }
    await Promise.all([loadHistory(), listen()]);
  }

  function showPace(progress) {
    const minutes = Math.round(progress.seconds_today / 60);
    $("time-today").textContent = minutes < 60 ? minutes + " min" : Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
    $("per-hour").textContent = progress.labels_per_hour === null ? "–" : labelloop.formatCount(Math.round(progress.labels_per_hour));
    const bar = $("queue-bar");
    const share = progress.queue_total ? progress.queue_done / progress.queue_total : 0;
    bar.setAttribute("aria-valuemax", String(progress.queue_total));
    bar.setAttribute("aria-valuenow", String(progress.queue_done));
    bar.firstElementChild.style.width = (100 * share).toFixed(1) + "%";
    $("queue-text").textContent = progress.queue_total
      ? `Queue: ${labelloop.formatCount(progress.queue_done)} of ${labelloop.formatCount(progress.queue_total)} items done (${Math.round(100 * share)}%)`
      : "Queue: empty";
  }

  // ------------------------------------------------------------------ history
  // The annotator's recent labels come from the server, so they survive a reload.
  async function loadHistory() {
    try {
      recent = await api("GET", `/projects/${P}/annotations/mine?limit=10`);
    } catch (error) {
      return;
    }
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.annotation : null;
    historyList.replaceChildren();
    if (!recent.length) historyList.append(el("li", { class: "muted" }, "None yet."));
    for (const entry of recent) {
      const when = new Date(entry.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const button = el("button", { type: "button", class: "history-entry", "data-annotation": String(entry.annotation_id) });
      button.append(
        el("span", { class: "history-id" }, entry.item_external_id),
        el("span", { class: "history-label" }, ner ? labelloop.spansText(entry.label, (entry.payload || {}).text) : labelText(entry.label)),
        el("span", { class: "muted" }, (entry.unsure ? "unsure · " : "") + (entry.comment ? "commented · " : "") + when + (entry.changeable ? "" : " · reviewed, final")));
      button.addEventListener("click", () => reopen(entry));
      const row = el("li", entry.changeable ? {} : { class: "reviewed" });
      row.append(button);
      historyList.append(row);
    }
    if (focused) {
      const again = historyList.querySelector(`[data-annotation="${focused}"]`);
      if (again) again.focus();
    }
  }

  function focusHistory(step) {
    const entries = Array.from(historyList.querySelectorAll(".history-entry"));
    if (!entries.length) { notice("No recent labels yet."); return; }
    const at = entries.indexOf(document.activeElement);
    const next = at < 0 ? 0 : Math.min(entries.length - 1, Math.max(0, at + step));
    entries[next].focus();
    entries[next].scrollIntoView({ block: "nearest" });
  }

  function reopen(entry) {
    if (busy) return;
    if (!entry.changeable) {
      notice(`A reviewer has already judged your label of ${entry.item_external_id}: it cannot be changed any more.`);
      return;
    }
    editing = entry;
    renderItem(itemBox, metaBox, { external_id: entry.item_external_id, payload: entry.payload, media_url: entry.media_url, meta: {} }, config.task_type);
    imageView.attach();
    if (boxes) boxes.load(entry.label, null);
    chosen.clear();
    if (ner) { spansOf = null; showSpans(null, entry.item_id, entry.payload, entry.label); }
    else for (const label of Array.isArray(entry.label) ? entry.label : [entry.label]) chosen.add(label);
    unsure = entry.unsure;
    comment = entry.comment || "";
    editingLine.hidden = false;
    editingLine.textContent = ner
      ? `Changing your entities of ${entry.item_external_id}: edit the spans, Enter saves, Esc goes back.`
      : `Changing your label of ${entry.item_external_id}: pick a label, Enter saves, Esc goes back.`;
    refreshButtons();
    itemBox.focus({ preventScroll: true });
  }

  function leaveEditing() {
    if (!editing) return;
    const task = current;
    editing = null;
    if (task) show(task); else { editingLine.hidden = true; loadNext(); }
  }

  async function saveChange() {
    const entry = editing;
    if (!entry || busy || (!ner && !boxes && chosen.size === 0) || !spansReady()) return;
    const body = labelBody();
    body.unsure = unsure;
    body.comment = comment;
    setBusy(true);
    try {
      await api("PATCH", `/annotations/${entry.annotation_id}`, body);
      notice(ner
        ? `Changed your entities of ${entry.item_external_id}: ${labelloop.spansText(body.label, (entry.payload || {}).text)}.`
        : `Changed your label of ${entry.item_external_id} to “${labelText(body.labels || body.label || body.boxes)}”.`);
      setBusy(false);
      leaveEditing();
    } catch (error) {
      setBusy(false);
      notice(`Not changed (${entry.item_external_id}): ${error.message}`);
    }
    loadHistory();
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
    const before = guidelineVersion;
    guidelineVersion = version;
    $("guideline-badge").textContent = "guidelines v" + version;
    notice(`The guidelines changed (version ${version}): press G to read them.`);
    await loadChanges(before, version);
    $("changes-banner").hidden = false;
  }

  // What changed between two guideline versions: every line, marked added or removed.
  async function loadChanges(old, version) {
    const found = await api("GET", `/projects/${P}/guidelines/changes?old=${old}&new=${version}`);
    const lines = el("div", { class: "diff" });
    for (const line of found.lines) {
      const mark = line.op === "added" ? "+ " : line.op === "removed" ? "− " : "  ";
      lines.append(el("div", { class: "diff-line " + line.op }, mark + line.text));
    }
    changesBox.replaceChildren(
      el("h2", { class: "small" }, `What changed from version ${found.old} to ${found.new}`),
      el("p", { class: "muted small" }, `${found.added} lines added, ${found.removed} removed.`),
      lines);
    changesBox.dataset.version = String(found.new);
    changesBox.hidden = false;
    $("changes-toggle").hidden = false;
  }

  async function toggleChanges() {
    if (guidelinesPane.hidden || changesBox.hidden) {
      if (changesBox.dataset.version !== String(guidelineVersion)) {
        if (guidelineVersion < 2) { notice("These are the first guidelines: nothing changed yet."); return; }
        try {
          await loadChanges(guidelineVersion - 1, guidelineVersion);
        } catch (error) {
          notice("Cannot show what changed: " + error.message);
          return;
        }
      }
      guidelinesPane.hidden = false;
      changesBox.hidden = false;
      changesBox.scrollIntoView({ block: "nearest" });
    } else {
      changesBox.hidden = true;
    }
    $("changes-banner").hidden = true;
  }

  function pick(index) {
    if (ner) { if ((current || editing) && !busy && spansReady()) editor.type(index); return; }
    const button = labelButtons[index];
    if (!button || !current || busy) return;
    const label = button.dataset.label;
    if (boxes) { boxes.pick(label); return; }
    if (config.multi_label) {
      if (chosen.has(label)) chosen.delete(label); else chosen.add(label);
    } else {
      chosen.clear();
      chosen.add(label);
    }
    refreshButtons();
  }

  function submit() {
    if (editing) { saveChange(); return; }
    if (!current || busy || (!ner && !boxes && chosen.size === 0) || !spansReady()) return;
    const task = current;
    const key = idempotencyKey;
    const body = labelBody();
    body.time_spent_ms = Math.max(0, Math.round(performance.now() - shownAt));
    if (unsure) body.unsure = true;
    if (comment) body.comment = comment;
    notice("");
    advance(() => api("POST", `/tasks/${task.id}/annotations`, body, { "Idempotency-Key": key })
      .then((made) => {
        undoStack.push({ annotationId: made.id, itemId: task.item.id });
        refreshButtons();
        refreshSideSoon();
      }, (error) => notice(`Not saved (${task.item.external_id}): ${error.message}`)));
  }

  // What is submitted: the spans of an entity project, else the chosen label(s).
  function labelBody() {
    if (ner) return { label: editor.value() };
    if (boxes) return { boxes: boxes.value() };
    return config.multi_label ? { labels: Array.from(chosen) } : { label: Array.from(chosen)[0] };
  }

  function askTokens(itemId) {
    if (!tokenCache.has(itemId)) {
      const asked = api("GET", `/projects/${P}/items/${itemId}/tokens`);
      asked.catch(() => tokenCache.delete(itemId));
      tokenCache.set(itemId, asked);
      // Only the items on screen and just ahead are kept.
      if (tokenCache.size > 30) tokenCache.delete(tokenCache.keys().next().value);
    }
    return tokenCache.get(itemId);
  }
  const tokenCache = new Map();
  let spansOf = null;  // the task (or reopened label) whose spans the editor holds

  // The editor's spans belong to what is on screen (its tokens may still be on the way).
  function spansReady() {
    if (!ner || spansOf === (editing || current)) return true;
    notice("The text is still loading: a moment, then try again.");
    return false;
  }

  // The item's text as tokens in the span editor, with `spans`; the model's spans as
  // suggestions once its guess comes (for a task, where the project shows the guess).
  async function showSpans(task, itemId, payload, spans) {
    let found;
    try {
      found = await askTokens(itemId);
    } catch (error) {
      notice("Cannot show the tokens: " + error.message);
      return;
    }
    const stillShown = () => (task ? current === task && !editing : editing && editing.item_id === itemId);
    if (!stillShown()) return;
    const text = itemBox.querySelector(".text");
    const node = editor.load({ text: found.text, tokens: found.tokens, spans: spans || [] });
    if (text) text.replaceWith(node); else itemBox.prepend(node);
    spansOf = task || editing;
    if (task && config.show_guess) {
      askGuess(task).then((guess) => {
        if (stillShown() && guess && Array.isArray(guess.structure)) editor.suggest(guess.structure);
      }, () => {});
    }
  }

  function notWhileEditing() {
    if (editing) notice("Finish changing the reopened label first: Enter saves, Esc goes back.");
    return Boolean(editing);
  }

  function openSkip() {
    if (!current || busy || notWhileEditing()) return;
    skipForm.hidden = false;
    skipReason.value = "";
    // Focus on the form, not its text box, so the number keys pick a reason.
    (reasonButtons.length ? skipForm : skipReason).focus();
  }

  function closeSkip() {
    skipForm.hidden = true;
    if (skipForm.contains(document.activeElement)) itemBox.focus({ preventScroll: true });
  }

  function toggleUnsure() {
    if ((!current && !editing) || busy) return;
    unsure = !unsure;
    refreshButtons();
  }

  function openComment() {
    if ((!current && !editing) || busy) return;
    commentForm.hidden = false;
    commentInput.value = comment;
    commentInput.focus();
  }

  function closeComment() {
    commentForm.hidden = true;
    if (commentForm.contains(document.activeElement)) itemBox.focus({ preventScroll: true });
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
    if (busy || notWhileEditing()) return;
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

  function askGuess(task) {
    if (!task.guess) task.guess = api("GET", `/projects/${P}/items/${task.item.id}/guess`);
    return task.guess;
  }

  // One key takes the model's guess as the label and submits it.
  async function acceptGuess() {
    if (!config.show_guess || !current || busy || notWhileEditing()) return;
    if (boxes) { notice(boxes.acceptAll() ? "The model's boxes are yours now: adjust them, then Enter." : "No suggestion left to take."); return; }
    const task = current;
    let guess;
    try {
      guess = await askGuess(task);
    } catch (error) {
      notice("No guess: " + error.message);
      return;
    }
    if (current !== task) return;
    if (!guess) { notice("No model has scored this item yet: pick a label."); return; }
    if (ner) {
      if (!spansReady()) return;
      if (Array.isArray(guess.structure)) editor.suggest(guess.structure);
      const accepted = editor.acceptAll();
      notice(accepted ? `Accepted ${accepted} of the model's entities: correct any, then Enter submits.`
        : "No suggestion left to accept: Enter submits the entities as they are.");
      return;
    }
    chosen.clear();
    for (const label of Array.isArray(guess.label) ? guess.label : [guess.label]) {
      if (labelButtons.some((button) => button.dataset.label === label)) chosen.add(label);
    }
    refreshButtons();
    submit();
  }

  async function toggleGuess() {
    if (!guessBox || !current) return;
    if (!guessBox.hidden) { guessBox.hidden = true; return; }
    guessBox.hidden = false;
    guessBox.textContent = "asking the model…";
    try {
      const guess = await askGuess(current);
      if (ner && guess) {
        guessBox.textContent = `Model version ${guess.model_version} finds: ${labelloop.spansText(guess.structure || [], (current.item.payload || {}).text)}.`;
        return;
      }
      guessBox.textContent = guess && boxes
        ? `Model version ${guess.model_version} drew ${labelText(guess.structure || [])}: dashed on the image.`
        : guess
        ? `Model version ${guess.model_version} guesses “${labelText(guess.label)}” with ${Math.round(100 * guess.confidence)}% confidence.`
        : "No model has scored this item yet.";
    } catch (error) {
      guessBox.textContent = "No guess: " + error.message;
    }
  }

  function toggleKeys() {
    keysOverlay.hidden = !keysOverlay.hidden;
    if (!keysOverlay.hidden) keysOverlay.focus(); else itemBox.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ images
  // The image fits the pane; zoom, pan, brightness and contrast change only how it shows.
  const imageView = (() => {
    const state = { zoom: 1, x: 0, y: 0, brightness: 100, contrast: 100 };
    const brightness = $("brightness"), contrast = $("contrast"), level = $("zoom-level");
    let image = null;
    let drag = null;
    function paint() {
      if (brightness) { brightness.value = String(state.brightness); contrast.value = String(state.contrast); }
      if (level) level.textContent = state.zoom === 1 ? "fit" : Math.round(100 * state.zoom) + "%";
      if (!image) return;
      image.style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.zoom})`;
      image.style.filter = `brightness(${state.brightness}%) contrast(${state.contrast}%)`;
    }
    function attach() {
      image = isImage ? itemBox.querySelector("img") : null;
      Object.assign(state, { zoom: 1, x: 0, y: 0 });  // each item starts fitted; the light stays
      if (image) image.draggable = false;
      paint();
    }
    function zoom(factor) {
      if (!image) return;
      state.zoom = Math.min(16, Math.max(1, state.zoom * factor));
      if (state.zoom === 1) { state.x = 0; state.y = 0; }
      paint();
    }
    function pan(dx, dy) {
      if (!image || state.zoom === 1) return false;
      state.x += dx;
      state.y += dy;
      paint();
      return true;
    }
    function light(name, step) {
      if (!image) return;
      state[name] = Math.min(300, Math.max(20, state[name] + step));
      paint();
    }
    function reset() {
      Object.assign(state, { zoom: 1, x: 0, y: 0, brightness: 100, contrast: 100 });
      paint();
    }
    if (brightness) {
      brightness.addEventListener("input", () => { state.brightness = Number(brightness.value); paint(); });
      contrast.addEventListener("input", () => { state.contrast = Number(contrast.value); paint(); });
      $("image-reset").addEventListener("click", reset);
      itemBox.addEventListener("wheel", (event) => {
        if (!image) return;
        event.preventDefault();
        zoom(event.deltaY < 0 ? 1.25 : 0.8);
      }, { passive: false });
      itemBox.addEventListener("pointerdown", (event) => {
        if (!image || state.zoom === 1) return;
        drag = { x: event.clientX - state.x, y: event.clientY - state.y };
        itemBox.setPointerCapture(event.pointerId);
      });
      itemBox.addEventListener("pointermove", (event) => {
        if (!drag) return;
        state.x = event.clientX - drag.x;
        state.y = event.clientY - drag.y;
        paint();
      });
      const stop = () => { drag = null; };
      itemBox.addEventListener("pointerup", stop);
      itemBox.addEventListener("pointercancel", stop);
    }
    return { attach, zoom, pan, light, reset, state };
  })();

  function imageKey(key) {
    if (!isImage) return false;
    const PAN = 40;
    if (key === "+" || key === "=") imageView.zoom(1.25);
    else if (key === "-" || key === "_") imageView.zoom(0.8);
    else if (key === "[") imageView.light("brightness", -10);
    else if (key === "]") imageView.light("brightness", 10);
    else if (key === "{") imageView.light("contrast", -10);
    else if (key === "}") imageView.light("contrast", 10);
    else if (key === "r" || key === "R") imageView.reset();
    else if (key === "ArrowLeft") return imageView.pan(PAN, 0);
    else if (key === "ArrowRight") return imageView.pan(-PAN, 0);
    else if (key === "ArrowUp") return imageView.pan(0, PAN);
    else if (key === "ArrowDown") return imageView.pan(0, -PAN);
    else return false;
    return true;
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
  if ($("accept-guess")) $("accept-guess").addEventListener("click", acceptGuess);
  $("keys-toggle").addEventListener("click", toggleKeys);
  $("changes-toggle").addEventListener("click", toggleChanges);
  unsureButton.addEventListener("click", toggleUnsure);
  $("comment-toggle").addEventListener("click", openComment);
  $("comment-cancel").addEventListener("click", closeComment);
  commentForm.addEventListener("submit", (event) => {
    event.preventDefault();
    comment = commentInput.value.trim();
    closeComment();
    refreshButtons();
  });
  commentForm.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); closeComment(); } });
  reasonButtons.forEach((button) => button.addEventListener("click", () => skip(button.dataset.reason)));
  skipForm.addEventListener("submit", (event) => { event.preventDefault(); skip(skipReason.value.trim()); });
  skipForm.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); closeSkip(); } });
  historyList.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      focusHistory(event.key === "ArrowDown" ? 1 : -1);
      event.preventDefault();
      event.stopPropagation();
    } else if (event.key === "Enter") {
      event.stopPropagation();  // the entry's own click reopens it
    }
  });
  keysOverlay.addEventListener("click", (event) => { if (event.target === keysOverlay) toggleKeys(); });

  document.addEventListener("keydown", (event) => {
    if (boxes && keysOverlay.hidden && skipForm.hidden && !typing(event) && !event.target.closest("#history") && boxes.key(event)) { event.preventDefault(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    const key = event.key;
    if (!keysOverlay.hidden) {
      if (key === "?" || key === "Escape") { toggleKeys(); event.preventDefault(); }
      return;
    }
    if (!skipForm.hidden && key === "Enter") { skip(skipReason.value.trim()); event.preventDefault(); return; }
    // Any other character starts the reason in words: the text box takes it.
    if (!skipForm.hidden && key.length === 1 && !/^[0-9]$/.test(key)) { skipReason.focus(); return; }
    if (!skipForm.hidden && /^[1-9]$/.test(key)) {
      const reason = reasonButtons[Number(key) - 1];
      if (reason) skip(reason.dataset.reason);
      event.preventDefault();
      return;
    }
    if (event.target && event.target.closest && event.target.closest("#history") && key === "Enter") return;
    if (imageKey(key)) { event.preventDefault(); return; }
    if (ner && (current || editing) && !busy && spansOf === (editing || current) && !(event.target.closest && event.target.closest("#history, form")) && editor.key(event)) {
      event.preventDefault();
      return;
    }
    if (/^[0-9]$/.test(key)) { pick(key === "0" ? 9 : Number(key) - 1); event.preventDefault(); }
    else if (key === "Enter") { submit(); event.preventDefault(); }
    else if (key === "s" || key === "S") { openSkip(); event.preventDefault(); }
    else if (key === "u" || key === "U") { undo(); event.preventDefault(); }
    else if (key === "g" || key === "G") { toggleGuidelines(); event.preventDefault(); }
    else if ((key === "m" || key === "M") && config.show_guess) { toggleGuess(); event.preventDefault(); }
    else if ((key === "a" || key === "A") && config.show_guess) { acceptGuess(); event.preventDefault(); }
    else if (key === "f" || key === "F") { toggleUnsure(); event.preventDefault(); }
    else if (key === "c" || key === "C") { openComment(); event.preventDefault(); }
    else if (key === "h" || key === "H") { focusHistory(0); event.preventDefault(); }
    else if (key === "w" || key === "W") { toggleChanges(); event.preventDefault(); }
    else if (key === "?") { toggleKeys(); event.preventDefault(); }
    else if (key === "Escape") {
      if (editing) { leaveEditing(); notice("Left unchanged."); return; }
      guidelinesPane.hidden = true;
      if (guessBox) guessBox.hidden = true;
    }
  });

  loadNext();
})();
