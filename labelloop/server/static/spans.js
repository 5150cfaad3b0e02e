// The span editor of entity (ner) projects, shared by the label and review pages.
// The text is shown token by token (tokens from the server, so a span always covers whole
// tokens); entities are <mark>s coloured by type, the model's suggestions dashed. Item text
// is only ever set as text.
"use strict";
(() => {
  const { el } = labelloop;
  // Ten hues far apart for the keys 1..0; more types go round the circle by the golden angle.
  const HUES = [210, 0, 125, 38, 280, 175, 325, 85, 250, 18];
  const hue = (index) => (index < HUES.length ? HUES[index] : Math.round(index * 137.5) % 360);

  function overlaps(a, b) { return a.start < b.end && b.start < a.end; }

  // Entities in text order: the spans, and the suggestions no span covers.
  function visible(spans, suggestions) {
    const shown = spans.map((span) => ({ span, kind: "span" }));
    for (const suggestion of suggestions) {
      if (shown.some((entry) => overlaps(entry.span, suggestion))) continue;
      shown.push({ span: suggestion, kind: "suggestion" });
    }
    return shown.sort((a, b) => a.span.start - b.span.start);
  }

  // The text as token <span>s, entities wrapped in <mark>s; `decorate(end, entry)` adds
  // buttons, `tokenClass(i)` the selection's classes.
  function paint(text, tokens, entries, labels, options) {
    const opts = options || {};
    const box = el("p", { class: "text ner-text" });
    let pos = 0, open = null, openEntry = null;
    const close = () => {
      if (!open) return;
      // The type and the buttons stay together on one line.
      const end = el("span", { class: "ent-end" });
      end.append(el("span", { class: "ent-tag" }, openEntry.span.label));
      if (opts.decorate) opts.decorate(end, openEntry);
      open.append(end);
      open = null;
      openEntry = null;
    };
    tokens.forEach(([start, end], i) => {
      const entry = entries.find((e) => e.span.start < end && start < e.span.end) || null;
      const gap = text.slice(pos, start);
      if (entry && entry === openEntry) {
        if (gap) open.append(gap);
      } else {
        close();
        if (gap) box.append(gap);
        if (entry) {
          const index = labels.indexOf(entry.span.label);
          open = el("mark", {
            class: "ent" + (entry.kind === "suggestion" ? " suggestion" : "") + (opts.focused === entry.span ? " focused" : ""),
            "data-label": entry.span.label,
            "data-start": String(entry.span.start),
            "data-end": String(entry.span.end),
            title: entry.kind === "suggestion"
              ? `model's suggestion: ${entry.span.label}` + (entry.span.score === undefined ? "" : ` (${Math.round(100 * entry.span.score)}%)`)
              : entry.span.label,
          });
          open.style.setProperty("--ent-hue", String(hue(index < 0 ? labels.length : index)));
          openEntry = entry;
          box.append(open);
        }
      }
      const token = el("span", { class: "tok" + (opts.tokenClass ? opts.tokenClass(i) : ""), "data-i": String(i) }, text.slice(start, end));
      (open || box).append(token);
      pos = end;
    });
    close();
    if (pos < text.length) box.append(text.slice(pos));
    return box;
  }

  // A read-only view of spans (and suggestions) over a text, for review rows and guesses.
  function spanView(text, tokens, spans, labels, suggestions) {
    const clean = (list) => (list || []).filter((s) => s && Number.isInteger(s.start) && Number.isInteger(s.end));
    return paint(text, tokens, visible(clean(spans), clean(suggestions)), labels);
  }

  // Words for a list of spans: “Paris” geo-loc · “Anna” person; "no entities" for none.
  function spansText(spans, text) {
    if (!Array.isArray(spans) || !spans.length) return "no entities";
    return spans.map((s) => (typeof text === "string" ? `“${text.slice(s.start, s.end)}” ` : `${s.start}–${s.end} `) + s.label).join(" · ");
  }

  function spanEditor({ labels, notice, onChange }) {
    let text = "", tokens = [], spans = [], suggestions = [];
    let cursor = -1, anchor = -1, selecting = false;
    let focused = null;  // a span or a suggestion object
    let node = el("p", { class: "text ner-text" });

    const changed = () => { render(); if (onChange) onChange(); };
    const lo = () => Math.min(anchor, cursor);
    const hi = () => Math.max(anchor, cursor);
    const entries = () => visible(spans, suggestions);
    const kindOf = (span) => (spans.includes(span) ? "span" : suggestions.includes(span) ? "suggestion" : null);

    function tokenClass(i) {
      let names = "";
      if (selecting && i >= lo() && i <= hi()) names += " selected";
      if (i === cursor) names += " cursor";
      return names;
    }

    function button(label, title, action) {
      const b = el("button", { type: "button", class: "ent-action", tabindex: "-1", title, "aria-label": title }, label);
      b.addEventListener("mousedown", (event) => event.preventDefault());
      b.addEventListener("click", (event) => { event.stopPropagation(); action(); });
      return b;
    }

    function decorate(end, entry) {
      const words = `“${text.slice(entry.span.start, entry.span.end)}”`;
      if (entry.kind === "suggestion") {
        end.append(button("✓", `accept ${words} as ${entry.span.label}`, () => accept(entry.span)),
          button("×", `dismiss the suggestion ${words}`, () => remove(entry.span)));
      } else {
        end.append(button("×", `remove ${words}`, () => remove(entry.span)));
      }
    }

    function render() {
      const fresh = paint(text, tokens, entries(), labels, { decorate, tokenClass, focused });
      node.replaceWith(fresh);
      node = fresh;
      node.addEventListener("mouseup", fromMouse);
      return node;
    }

    function load(options) {
      text = options.text || "";
      tokens = options.tokens || [];
      const fits = (s) => s && Number.isInteger(s.start) && Number.isInteger(s.end) && labels.includes(s.label);
      spans = (options.spans || []).filter(fits).map((s) => ({ start: s.start, end: s.end, label: s.label }));
      suggestions = [];
      cursor = -1; anchor = -1; selecting = false; focused = null;
      suggest(options.suggestions || []);
      return render();
    }

    function suggest(list) {
      suggestions = (list || [])
        .filter((s) => s && Number.isInteger(s.start) && Number.isInteger(s.end) && labels.includes(s.label))
        .map((s) => ({ start: s.start, end: s.end, label: s.label, score: s.score }))
        .filter((s, i, all) => !all.slice(0, i).some((before) => overlaps(before, s)));
      changed();
    }

    function value() {
      return spans.slice().sort((a, b) => a.start - b.start).map(({ start, end, label }) => ({ start, end, label }));
    }

    function words(span) { return `“${text.slice(span.start, span.end)}”`; }

    function setFocus(span) {
      focused = span;
      if (span) {
        const inside = tokens.map((t, i) => (t[0] < span.end && span.start < t[1] ? i : -1)).filter((i) => i >= 0);
        if (inside.length) { anchor = inside[0]; cursor = inside[inside.length - 1]; }
        selecting = false;
      }
    }

    // Give the selection (or the focused entity) the type of label `index`.
    function type(index) {
      const label = labels[index];
      if (label === undefined || !tokens.length) return;
      if (focused && !selecting) {
        if (kindOf(focused) === "suggestion") { accept(focused, label); return; }
        focused.label = label;
        changed();
        return;
      }
      if (!selecting) {
        notice("Select words first: ← → move, Shift+← → extend, or drag over them with the mouse.");
        return;
      }
      const made = { start: tokens[lo()][0], end: tokens[hi()][1], label };
      const same = spans.find((s) => s.start === made.start && s.end === made.end);
      if (same) { same.label = label; setFocus(same); changed(); return; }
      // A selection that covers entities whole replaces them (an entity grown by Shift+arrows);
      // one that cuts into an entity is refused.
      const clash = spans.find((s) => overlaps(s, made) && (s.start < made.start || s.end > made.end));
      if (clash) {
        notice(`Not added: ${words(made)} overlaps the ${clash.label} ${words(clash)}; entities may not overlap. Remove that one first (Tab to it, Delete).`);
        return;
      }
      const replaced = spans.filter((s) => overlaps(s, made));
      spans = spans.filter((s) => !overlaps(s, made));
      suggestions = suggestions.filter((s) => !overlaps(s, made));
      spans.push(made);
      setFocus(made);
      notice(replaced.length ? `${words(made)} ${label} replaces ${replaced.map((s) => `${words(s)} ${s.label}`).join(", ")}.` : "");
      changed();
    }

    function accept(suggestion, label) {
      if (spans.some((s) => overlaps(s, suggestion))) return false;
      suggestions = suggestions.filter((s) => s !== suggestion);
      const made = { start: suggestion.start, end: suggestion.end, label: label || suggestion.label };
      spans.push(made);
      if (focused === suggestion) setFocus(made);
      changed();
      return true;
    }

    function acceptAll() {
      let accepted = 0;
      for (const entry of entries()) if (entry.kind === "suggestion" && accept(entry.span)) accepted += 1;
      return accepted;
    }

    function remove(span) {
      spans = spans.filter((s) => s !== span);
      suggestions = suggestions.filter((s) => s !== span);
      if (focused === span) focused = null;
      changed();
    }

    function step(direction) {
      const list = entries();
      if (!list.length) { notice("No entities yet: select words and press a number key."); return; }
      const at = list.findIndex((entry) => entry.span === focused);
      let next;
      if (at >= 0) next = (at + direction + list.length) % list.length;
      else if (direction > 0) next = Math.max(0, list.findIndex((entry) => cursor < 0 || entry.span.end > tokens[cursor][0]));
      else next = list.length - 1;
      setFocus(list[next].span);
      render();
    }

    function move(delta, extend) {
      if (!tokens.length) return;
      const had = cursor >= 0 && cursor < tokens.length;
      const to = Math.min(tokens.length - 1, Math.max(0, (had ? cursor : delta > 0 ? -1 : tokens.length) + delta));
      if (extend) {
        // From the focused entity, the selection grows from its first token.
        if (!selecting && !focused) anchor = had ? cursor : to;
        cursor = to;
      } else {
        anchor = to;
        cursor = to;
      }
      selecting = true;
      focused = null;
      render();
    }

    // Mouse: a drag selects the tokens it touches; a click puts the cursor on a token and
    // focuses the entity under it.
    function fromMouse(event) {
      if (event.target.closest(".ent-action")) return;
      const selection = window.getSelection();
      const touched = Array.from(node.querySelectorAll(".tok"))
        .filter((tok) => selection && !selection.isCollapsed && selection.containsNode(tok, true))
        .map((tok) => Number(tok.dataset.i));
      if (touched.length) {
        anchor = Math.min(...touched);
        cursor = Math.max(...touched);
        selecting = true;
        focused = null;
        selection.removeAllRanges();
        render();
        return;
      }
      const tok = event.target.closest(".tok");
      if (!tok) return;
      const i = Number(tok.dataset.i);
      const mark = event.target.closest("mark.ent");
      if (mark) {
        const entry = entries().find((e) => String(e.span.start) === mark.dataset.start);
        if (entry) { setFocus(entry.span); cursor = i; render(); return; }
      }
      anchor = i;
      cursor = i;
      selecting = true;
      focused = null;
      render();
    }

    // The editor's keys; true when the key was its own.
    function key(event) {
      const k = event.key;
      if (k === "ArrowLeft" || k === "ArrowRight") { move(k === "ArrowLeft" ? -1 : 1, event.shiftKey); return true; }
      if (k === "Tab") { step(event.shiftKey ? -1 : 1); return true; }
      if (k === "Delete" || k === "Backspace") {
        if (focused) remove(focused);
        else notice("Tab to an entity first, then Delete removes it.");
        return true;
      }
      if (k === "y" || k === "Y") {
        if (focused && kindOf(focused) === "suggestion") accept(focused);
        else notice("Tab to a suggestion (dashed) first, then Y accepts it.");
        return true;
      }
      if (k === "Escape" && (selecting || focused || cursor >= 0)) {
        selecting = false;
        focused = null;
        cursor = -1;
        anchor = -1;
        render();
        return true;
      }
      return false;
    }

    function paintLegend(buttons) {
      buttons.forEach((b, i) => { b.classList.add("ent-key"); b.style.setProperty("--ent-hue", String(hue(i))); });
    }

    return {
      load, suggest, value, type, acceptAll, key, paintLegend,
      get node() { return node; },
      get suggestions() { return suggestions.length; },
    };
  }

  Object.assign(labelloop, { spanEditor, spanView, spansText });
})();
