// The review view: accept (A), reject with a note (R), correct (C, number keys, Enter).
"use strict";
(() => {
  const { api, el, labelText, renderItem, notice, typing, config } = labelloop;
  const P = config.project_id;
  const $ = (id) => document.getElementById(id);
  const itemBox = $("item"), metaBox = $("item-meta"), rows = $("annotations"), guess = $("model-guess");
  const noteForm = $("note-form"), note = $("note"), correctForm = $("correct-form"), reason = $("review-reason");
  const labelButtons = Array.from(document.querySelectorAll("#labels .label-button"));
  const actions = ["accept", "reject", "correct"].map((id) => $(id));
  const chosen = new Set();
  // Box projects: boxes.js shows each annotator's boxes and the model's, and edits a correction.
  const boxes = config.task_type === "boxes" ? labelloop.createBoxReview(itemBox, $("box-sources")) : null;
  let current = null;
  let busy = false;
  let reviewed = 0;
  // An entity project's labels are spans: shown over the text, corrected in the span editor.
  const ner = config.task_type === "ner";
  const editor = ner ? labelloop.spanEditor({ labels: config.labels, notice }) : null;
  if (editor) editor.paintLegend(labelButtons);
  let spanData = null;  // {task, text, tokens, model} of the task on screen

  function refresh() {
    for (const button of actions) button.disabled = busy || !current;
    for (const button of labelButtons) button.setAttribute("aria-pressed", chosen.has(button.dataset.label) ? "true" : "false");
  }

  function closeForms() {
    const wasCorrecting = !correctForm.hidden;
    noteForm.hidden = true;
    correctForm.hidden = true;
    if (boxes) boxes.view();
    chosen.clear();
    if (ner && wasCorrecting && spanData && spanData.task === current) showReadOnly();
    refresh();
  }

  const spanView = (spans, suggestions) => {
    const box = el("div", { class: "span-view" });
    box.append(labelloop.spanView(spanData.text, spanData.tokens, spans, config.labels, suggestions));
    return box;
  };

  // The item's text with the first annotation's spans, as the reviewer first sees it.
  function showReadOnly() {
    const first = current.annotations[0];
    const view = labelloop.spanView(spanData.text, spanData.tokens, first ? first.label : [], config.labels);
    const text = itemBox.querySelector(".text");
    if (text) text.replaceWith(view); else itemBox.prepend(view);
  }

  // Tokens and the model's spans of an entity item, then the spans drawn in every row.
  async function showSpans(task) {
    let tokens, guessed;
    try {
      [tokens, guessed] = await Promise.all([
        api("GET", `/projects/${P}/items/${task.item.id}/tokens`),
        api("GET", `/projects/${P}/items/${task.item.id}/guess`).catch(() => null),
      ]);
    } catch (error) {
      notice("Cannot show the entities: " + error.message);
      return;
    }
    if (current !== task) return;
    const model = guessed && Array.isArray(guessed.structure) ? guessed.structure : null;
    spanData = { task, text: tokens.text, tokens: tokens.tokens, model };
    showReadOnly();
    task.annotations.forEach((a, i) => {
      const cell = rows.children[i] && rows.children[i].children[1];
      if (cell) cell.prepend(spanView(a.label));
    });
    if (model) {
      guess.replaceChildren(`Model version ${guessed.model_version} finds: ${labelloop.spansText(model, tokens.text)}`, spanView([], model));
    } else {
      guess.textContent = "No model has drawn entities on this item yet.";
    }
  }


  function show(task) {
    current = task;
    closeForms();
    rows.replaceChildren();
    guess.textContent = "";
    if (!task) {
      itemBox.replaceChildren(el("p", { class: "done" }, "Nothing waits for review right now."),
        el("p", { class: "muted" }, "This page looks again every 15 seconds."));
      metaBox.textContent = "";
      reason.hidden = true;
      setTimeout(() => { if (!current && !busy) loadNext(); }, 15000);
      refresh();
      return;
    }
    renderItem(itemBox, metaBox, task.item, config.task_type);
    reason.hidden = false;
    reason.textContent = "review: " + task.reason.replaceAll("_", " ");
    for (const a of task.annotations) {
      const tr = el("tr");
      const said = el("td", {}, ner ? labelloop.spansText(a.label, (task.item.payload || {}).text) : labelText(a.label));
      if (a.unsure) said.append(" ", el("span", { class: "annotation-flag" }, "unsure"));
      if (a.comment) said.append(el("br"), el("span", { class: "annotation-comment" }, "“" + a.comment + "”"));
      tr.append(el("td", {}, a.actor), said,
        el("td", {}, a.time_spent_ms === null ? "–" : (a.time_spent_ms / 1000).toFixed(1) + " s"),
        el("td", {}, a.guideline_version === null ? "–" : "v" + a.guideline_version));
      rows.append(tr);
    }
    if (boxes) boxes.show(task);
    if (boxes) {
      // The model's boxes are one of the sources under the image; what the annotators
      // did not agree on is named here.
      const open = task.disagreement || [];
      guess.textContent = open.length ? "Not agreed: " + open.join("; ") + "." : "";
    } else if (ner) {
      spanData = null;
      guess.textContent = "Asking the model…";
      showSpans(task);
    } else if (task.model_guess) {
      const probabilities = task.model_guess.probabilities;
      const top = Math.max(...Object.values(probabilities));
      guess.textContent = `Model version ${task.model_guess.model_version} guesses “${labelText(task.model_guess.label)}” (${Math.round(100 * top)}%).`;
    } else {
      guess.textContent = "No model guess yet.";
    }
    refresh();
    itemBox.focus({ preventScroll: true });
  }

  async function loadNext() {
    busy = true;
    refresh();
    try {
      show(await api("POST", `/projects/${P}/reviews/next`));
    } catch (error) {
      notice("Could not load the next review: " + error.message);
    } finally {
      busy = false;
      refresh();
    }
  }

  async function send(body) {
    if (!current || busy) return;
    busy = true;
    refresh();
    try {
      const outcome = await api("POST", `/reviews/${current.id}`, body);
      reviewed += 1;
      $("reviewed").textContent = reviewed;
      const final = ner ? labelloop.spansText(outcome.final_label, spanData ? spanData.text : null) : labelText(outcome.final_label);
      notice(`${outcome.item_external_id}: ${outcome.verdict}, final label ${final}.`);
      current = null;
      busy = false;
      await loadNext();
    } catch (error) {
      notice("Not saved: " + error.message);
    } finally {
      busy = false;
      refresh();
    }
  }

  function pick(index) {
    if (ner) { if (!correctForm.hidden) editor.type(index); return; }
    const button = labelButtons[index];
    if (!button) return;
    const label = button.dataset.label;
    if (boxes) { boxes.pick(label); return; }
    if (config.multi_label) { if (chosen.has(label)) chosen.delete(label); else chosen.add(label); }
    else { chosen.clear(); chosen.add(label); }
    refresh();
  }

  function openReject() { if (!current || busy) return; closeForms(); noteForm.hidden = false; note.value = ""; note.focus(); }
  function openCorrect() {
    if (!current || busy) return;
    closeForms();
    correctForm.hidden = false;
    if (boxes) boxes.correct();
    if (ner) {
      if (!spanData || spanData.task !== current) { notice("The text is still loading: a moment, then C again."); correctForm.hidden = true; return; }
      // The editor starts from the first annotation's spans, the model's others suggested.
      const first = current.annotations[0];
      const node = editor.load({ text: spanData.text, tokens: spanData.tokens, spans: first ? first.label : [], suggestions: spanData.model || [] });
      itemBox.querySelector(".ner-text").replaceWith(node);
    }
    itemBox.focus({ preventScroll: true });
    // On a short screen the form may still start below the fold: bring it in, no further.
    correctForm.scrollIntoView({ block: "nearest" });
  }
  function sendCorrection() {
    if (boxes) { send({ verdict: "correct", boxes: boxes.value(), note: $("correct-note").value.trim() || null }); return; }
    const body = { verdict: "correct", note: $("correct-note").value.trim() || null };
    if (ner) { body.label = editor.value(); send(body); return; }
    if (chosen.size === 0) { notice("Pick the right label first (number keys)."); return; }
    if (config.multi_label) body.labels = Array.from(chosen); else body.label = Array.from(chosen)[0];
    send(body);
  }

  $("accept").addEventListener("click", () => send({ verdict: "accept" }));
  $("reject").addEventListener("click", openReject);
  $("correct").addEventListener("click", openCorrect);
  $("correct-submit").addEventListener("click", sendCorrection);
  labelButtons.forEach((button, index) => button.addEventListener("click", () => pick(index)));
  noteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send({ verdict: "reject", note: note.value.trim() || null });
  });
  for (const cancel of document.querySelectorAll(".cancel")) cancel.addEventListener("click", closeForms);

  document.addEventListener("keydown", (event) => {
    if (boxes && current && noteForm.hidden && !typing(event) && boxes.key(event, !correctForm.hidden)) { event.preventDefault(); return; }
    if (ner && !correctForm.hidden && !typing(event) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      if (editor.key(event)) { event.preventDefault(); return; }
      if (event.key === "a" || event.key === "A") {
        const accepted = editor.acceptAll();
        notice(accepted ? `Accepted ${accepted} of the model's entities.` : "No suggestion left to accept.");
        event.preventDefault();
        return;
      }
    }
    if (event.key === "Escape") { closeForms(); itemBox.focus({ preventScroll: true }); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    const key = event.key.toLowerCase();
    if (!correctForm.hidden) {
      if (/^[0-9]$/.test(key)) { pick(key === "0" ? 9 : Number(key) - 1); event.preventDefault(); }
      else if (key === "enter") { sendCorrection(); event.preventDefault(); }
      return;
    }
    if (key === "a") { send({ verdict: "accept" }); event.preventDefault(); }
    else if (key === "r") { openReject(); event.preventDefault(); }
    else if (key === "c") { openCorrect(); event.preventDefault(); }
  });

  loadNext();
})();
