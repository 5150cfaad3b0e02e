// Boxes on an image: draw, select, move, resize, label, step through and delete them by mouse
// and keys, and take the model's boxes as suggestions. Coordinates live in the image's own
// pixels; the overlay follows the image wherever zoom and pan put it on screen.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#8c564b", "#7f7f00", "#393b79"];
  const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
  const classes = labelloop.config.labels || [];
  const STEP = 1, BIG_STEP = 10;

  function colourOf(label) {
    const at = classes.indexOf(label);
    return at < 0 ? "#666666" : PALETTE[at % PALETTE.length];
  }

  function node(tag, attrs) {
    const made = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) made.setAttribute(key, String(value));
    return made;
  }

  const round = (value) => Math.round(value);

  // The class buttons of the page double as the legend: each gets its class colour.
  function paintLegend(root) {
    for (const button of (root || document).querySelectorAll(".label-button")) {
      button.classList.add("box-class");
      button.style.setProperty("--box-colour", colourOf(button.dataset.label));
    }
  }

  // A list of boxes as stored: [{bbox: [x1, y1, x2, y2], label}], checked loosely.
  function readBoxes(value, suggestion) {
    if (!Array.isArray(value)) return [];
    return value
      .filter((b) => b && Array.isArray(b.bbox) && b.bbox.length === 4)
      .map((b) => ({ bbox: b.bbox.map(Number), label: String(b.label), score: typeof b.score === "number" ? b.score : null, suggestion }));
  }

  /**
   * An editor over the image in `container`. `options.editable` (default true) allows
   * changes; `options.onChange()` runs after each; `options.status` is an element for a
   * one-line summary. Methods: load(boxes, suggestions), value(), pick(label), key(event),
   * acceptAll(), acceptSelected(), select(i), setEditable(flag), counts().
   */
  function createBoxEditor(container, options) {
    const opts = Object.assign({ editable: true, onChange: () => {}, status: null }, options || {});
    let image = null, layer = null, editable = opts.editable;
    let boxes = [];          // {bbox, label, score, suggestion}
    let selected = -1;
    let current = classes[0] || "";   // the class new boxes get
    let drag = null;
    let observed = null;
    const mutations = new MutationObserver(layout);
    const resizes = new ResizeObserver(layout);

    // Where the image's pixels are on screen: `object-fit: contain` inside the element's box,
    // which CSS zoom and pan have already moved and scaled.
    function frame() {
      const rect = image.getBoundingClientRect();
      const w = image.naturalWidth, h = image.naturalHeight;
      const scale = Math.min(rect.width / w, rect.height / h);
      return { left: rect.left + (rect.width - w * scale) / 2, top: rect.top + (rect.height - h * scale) / 2, scale, w, h };
    }

    function ready() { return image && image.complete && image.naturalWidth > 0 && layer; }

    function layout() {
      if (!ready()) return;
      const f = frame(), outer = container.getBoundingClientRect();
      Object.assign(layer.style, {
        left: (f.left - outer.left - container.clientLeft) + "px",
        top: (f.top - outer.top - container.clientTop) + "px",
        width: f.w * f.scale + "px",
        height: f.h * f.scale + "px",
      });
      layer.setAttribute("viewBox", `0 0 ${f.w} ${f.h}`);
      render();
    }

    function attach() {
      const found = container.querySelector("img");
      if (found !== image || !layer || !layer.isConnected) {
        if (observed) mutations.disconnect();
        image = found;
        if (layer) layer.remove();
        layer = null;
        if (!image) return;
        container.classList.add("has-boxes");
        layer = node("svg", { class: "box-layer", role: "img", "aria-label": "boxes on the image", preserveAspectRatio: "none" });
        layer.addEventListener("pointerdown", down);
        layer.addEventListener("pointermove", move);
        layer.addEventListener("pointerup", up);
        layer.addEventListener("pointercancel", up);
        image.after(layer);
        mutations.observe(image, { attributes: true, attributeFilter: ["style", "class"] });
        resizes.disconnect();
        resizes.observe(container);
        observed = image;
        image.addEventListener("load", layout);
      }
      layout();
    }

    function load(given, suggestions) {
      boxes = readBoxes(given, false);
      selected = -1;
      drag = null;
      attach();
      changed();
      if (suggestions && typeof suggestions.then === "function") {
        const mine = image;
        suggestions.then((guess) => {
          if (image !== mine || !guess) return;
          const drawn = readBoxes(guess.structure, true);
          boxes.push(...drawn);
          changed();
        }, () => {});
      } else if (suggestions) {
        boxes.push(...readBoxes(suggestions, true));
        changed();
      }
    }

    function changed() {
      render();
      if (opts.status) {
        const mine = boxes.filter((b) => !b.suggestion).length, offered = boxes.length - mine;
        let text = `New boxes: ${current || "–"} · ${mine} box${mine === 1 ? "" : "es"}`;
        if (offered) text += ` · ${offered} suggestion${offered === 1 ? "" : "s"} (Y takes one, A all)`;
        if (selected >= 0) {
          const b = boxes[selected];
          text += ` · selected ${selected + 1}: ${b.label}${b.suggestion ? " (suggestion)" : ""}`;
        }
        opts.status.textContent = text;
      }
      const active = selected >= 0 ? boxes[selected].label : current;
      for (const button of document.querySelectorAll(".label-button.box-class")) {
        button.classList.toggle("box-current", button.dataset.label === active);
      }
      opts.onChange();
    }

    function render() {
      if (!ready()) return;
      const scale = frame().scale || 1;
      const px = (n) => n / scale;  // screen pixels in image pixels
      layer.replaceChildren();
      layer.classList.toggle("editable", editable);
      boxes.forEach((b, index) => {
        const [x1, y1, x2, y2] = b.bbox;
        const colour = colourOf(b.label);
        const group = node("g", {
          class: "box" + (b.suggestion ? " suggestion" : "") + (index === selected ? " selected" : ""),
          "data-index": index, "data-label": b.label,
        });
        group.append(node("rect", {
          x: Math.min(x1, x2), y: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1),
          stroke: colour, fill: colour, class: "box-body",
        }));
        const caption = node("text", { x: Math.min(x1, x2), y: Math.min(y1, y2) - px(4), "font-size": px(12), fill: colour, "stroke-width": px(3) });
        caption.textContent = b.label + (b.suggestion && b.score !== null ? ` ${Math.round(100 * b.score)}%` : "");
        group.append(caption);
        layer.append(group);
      });
      if (selected >= 0 && editable) {
        const [x1, y1, x2, y2] = boxes[selected].bbox;
        const size = px(9);
        const xs = { w: x1, n: (x1 + x2) / 2, e: x2 }, ys = { n: y1, w: (y1 + y2) / 2, s: y2 };
        for (const handle of HANDLES) {
          const x = handle.includes("w") ? x1 : handle.includes("e") ? x2 : xs.n;
          const y = handle.includes("n") ? y1 : handle.includes("s") ? y2 : ys.w;
          layer.append(node("rect", { class: "box-handle handle-" + handle, "data-handle": handle, x: x - size / 2, y: y - size / 2, width: size, height: size }));
        }
      }
    }

    function point(event) {
      const f = frame();
      return { x: (event.clientX - f.left) / f.scale, y: (event.clientY - f.top) / f.scale, scale: f.scale, w: f.w, h: f.h };
    }

    const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

    function normal(bbox, w, h) {
      const [a, b, c, d] = bbox;
      return [round(clamp(Math.min(a, c), 0, w)), round(clamp(Math.min(b, d), 0, h)), round(clamp(Math.max(a, c), 0, w)), round(clamp(Math.max(b, d), 0, h))];
    }

    function down(event) {
      // Other buttons go on to the page: they pan the zoomed image.
      if (!editable || event.button !== 0 || !ready()) return;
      event.stopPropagation();
      event.preventDefault();
      const p = point(event);
      const handle = event.target.dataset ? event.target.dataset.handle : undefined;
      const group = event.target.closest ? event.target.closest("g.box") : null;
      if (handle && selected >= 0) {
        drag = { mode: "resize", handle, start: boxes[selected].bbox.slice(), from: p };
      } else if (group) {
        selected = Number(group.dataset.index);
        drag = { mode: "move", start: boxes[selected].bbox.slice(), from: p };
        changed();
      } else {
        drag = { mode: "draw", from: p, made: false };
      }
      layer.setPointerCapture(event.pointerId);
      container.focus({ preventScroll: true });
    }

    function move(event) {
      if (!drag) return;
      event.stopPropagation();
      const p = point(event);
      const dx = p.x - drag.from.x, dy = p.y - drag.from.y;
      if (drag.mode === "draw") {
        // A click is not a box: it takes a few screen pixels of drag to start one.
        if (!drag.made && Math.hypot(dx, dy) * p.scale < 4) return;
        if (!drag.made) {
          boxes.push({ bbox: [drag.from.x, drag.from.y, p.x, p.y], label: current, score: null, suggestion: false });
          selected = boxes.length - 1;
          drag.made = true;
        }
        boxes[selected].bbox = [drag.from.x, drag.from.y, clamp(p.x, 0, p.w), clamp(p.y, 0, p.h)];
      } else if (drag.mode === "move") {
        const [x1, y1, x2, y2] = drag.start;
        const mx = clamp(dx, -x1, p.w - x2), my = clamp(dy, -y1, p.h - y2);
        boxes[selected].bbox = [x1 + mx, y1 + my, x2 + mx, y2 + my];
      } else {
        const bbox = drag.start.slice();
        if (drag.handle.includes("w")) bbox[0] = clamp(drag.start[0] + dx, 0, p.w);
        if (drag.handle.includes("e")) bbox[2] = clamp(drag.start[2] + dx, 0, p.w);
        if (drag.handle.includes("n")) bbox[1] = clamp(drag.start[1] + dy, 0, p.h);
        if (drag.handle.includes("s")) bbox[3] = clamp(drag.start[3] + dy, 0, p.h);
        boxes[selected].bbox = bbox;
      }
      render();
    }

    function up(event) {
      if (!drag) return;
      event.stopPropagation();
      const f = frame();
      if (drag.mode === "draw" && !drag.made) {
        selected = -1;  // a click on the bare image lets go of the selection
      } else if (selected >= 0) {
        const bbox = normal(boxes[selected].bbox, f.w, f.h);
        if (bbox[2] - bbox[0] < 1 || bbox[3] - bbox[1] < 1) { boxes.splice(selected, 1); selected = -1; }
        else boxes[selected].bbox = bbox;
      }
      drag = null;
      changed();
    }

    function select(index) {
      selected = boxes.length ? ((index % boxes.length) + boxes.length) % boxes.length : -1;
      changed();
      if (selected >= 0 && layer) {
        const shown = layer.querySelector(`g.box[data-index="${selected}"]`);
        if (shown) shown.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
    }

    function pick(label) {
      if (!classes.includes(label)) return;
      if (selected >= 0 && editable) boxes[selected].label = label;
      else current = label;
      changed();
    }

    // Arrows move the selected box; with Alt they move its right or bottom edge (resize).
    function nudge(key, big, resize) {
      const b = boxes[selected], step = big ? BIG_STEP : STEP;
      const w = image.naturalWidth, h = image.naturalHeight;
      const dx = key === "ArrowLeft" ? -step : key === "ArrowRight" ? step : 0;
      const dy = key === "ArrowUp" ? -step : key === "ArrowDown" ? step : 0;
      const [x1, y1, x2, y2] = b.bbox;
      if (resize) {
        b.bbox = [x1, y1, clamp(x2 + dx, x1 + 1, w), clamp(y2 + dy, y1 + 1, h)];
      } else {
        const mx = clamp(dx, -x1, w - x2), my = clamp(dy, -y1, h - y2);
        b.bbox = [x1 + mx, y1 + my, x2 + mx, y2 + my];
      }
      changed();
    }

    function remove() {
      if (selected < 0) return;
      boxes.splice(selected, 1);
      selected = boxes.length ? Math.min(selected, boxes.length - 1) : -1;
      changed();
    }

    function acceptSelected() {
      if (selected < 0 || !boxes[selected].suggestion) return false;
      boxes[selected].suggestion = false;
      changed();
      return true;
    }

    function acceptAll() {
      const offered = boxes.filter((b) => b.suggestion).length;
      for (const b of boxes) b.suggestion = false;
      changed();
      return offered;
    }

    // One key of the page's: true when the editor used it (the page then does nothing more).
    function key(event) {
      if (!editable || !ready() || event.ctrlKey || event.metaKey) return false;
      const k = event.key;
      if (k === "Tab" && boxes.length) { select(selected < 0 ? (event.shiftKey ? -1 : 0) : selected + (event.shiftKey ? -1 : 1)); return true; }
      if (event.altKey && !k.startsWith("Arrow")) return false;
      if (/^[0-9]$/.test(k)) { const label = classes[k === "0" ? 9 : Number(k) - 1]; if (label !== undefined) pick(label); return true; }
      if (selected < 0) return false;
      if (k.startsWith("Arrow")) { nudge(k, event.shiftKey, event.altKey); return true; }
      if (k === "Delete" || k === "Backspace") { remove(); return true; }
      if (k === "y" || k === "Y") { acceptSelected(); return true; }
      if (k === "Escape") { selected = -1; changed(); return true; }
      return false;
    }

    function value() {
      return boxes.filter((b) => !b.suggestion).map((b) => ({ bbox: b.bbox.slice(), label: b.label }));
    }

    function setEditable(flag) { editable = Boolean(flag); if (!editable) selected = -1; changed(); }

    function counts() {
      const mine = boxes.filter((b) => !b.suggestion).length;
      return { boxes: mine, suggestions: boxes.length - mine, selected };
    }

    return { load, value, pick, key, acceptAll, acceptSelected, select, setEditable, counts, layout };
  }

  // One line for a list of boxes: how many, of which classes.
  function describe(value) {
    const found = readBoxes(value, false);
    if (!found.length) return "no boxes";
    const tally = {};
    for (const b of found) tally[b.label] = (tally[b.label] || 0) + 1;
    return `${found.length} box${found.length === 1 ? "" : "es"}: ` + Object.entries(tally).map(([k, n]) => `${n} ${k}`).join(", ");
  }

  /**
   * The review page's boxes: each annotator's boxes and the model's over the image, one
   * source at a time (V steps through them); `correct()` makes the shown boxes editable,
   * with the model's as suggestions, and `value()` is the correction.
   */
  function createBoxReview(container, line) {
    const editor = createBoxEditor(container, { editable: false });
    let sources = [];   // {name, boxes, model}
    let shown = 0;
    let correcting = false;
    let asked = 0;

    function paintLine() {
      line.replaceChildren();
      if (!sources.length) return;
      line.append(correcting ? "Correcting: draw, move, resize or delete boxes, number keys set the class, Enter saves. " : "Showing ");
      sources.forEach((source, index) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "box-source";
        button.setAttribute("aria-pressed", index === shown ? "true" : "false");
        button.textContent = `${source.name} (${describe(source.boxes)})`;
        button.addEventListener("click", () => { shown = index; display(); });
        line.append(button, " ");
      });
      if (!correcting && sources.length > 1) line.append(" · V shows the next");
    }

    function display() {
      const source = sources[shown];
      if (!source) { editor.load([], null); paintLine(); return; }
      if (source.model) editor.load([], source.boxes); else editor.load(source.boxes, null);
      paintLine();
    }

    function show(task) {
      correcting = false;
      editor.setEditable(false);
      sources = task.annotations.map((a) => ({ name: a.actor, boxes: a.label, model: false }));
      shown = 0;
      display();
      const mine = ++asked;
      labelloop.api("GET", `/projects/${task.project_id}/items/${task.item.id}/guess`).then((guess) => {
        if (mine !== asked || !guess || !Array.isArray(guess.structure)) return;
        sources.push({ name: `model v${guess.model_version}`, boxes: guess.structure, model: true });
        if (!correcting) paintLine();
      }, () => {});
    }

    function correct() {
      const source = sources[shown];
      const model = sources.find((s) => s.model);
      correcting = true;
      editor.setEditable(true);
      editor.load(source && !source.model ? source.boxes : [], model ? model.boxes : null);
      paintLine();
    }

    function view() {
      if (!correcting) return;
      correcting = false;
      editor.setEditable(false);
      display();
    }

    function key(event, inCorrection) {
      if (inCorrection && (event.key === "a" || event.key === "A") && !event.ctrlKey && !event.metaKey && !event.altKey) { editor.acceptAll(); return true; }
      if (inCorrection) return editor.key(event);
      if ((event.key === "v" || event.key === "V") && !event.ctrlKey && !event.metaKey && !event.altKey && sources.length) {
        shown = (shown + 1) % sources.length;
        display();
        return true;
      }
      return false;
    }

    return { show, correct, view, key, pick: (label) => editor.pick(label), value: () => editor.value(), editor };
  }

  if (labelloop.config.task_type === "boxes") paintLegend();
  // The item page: the final label's boxes, and the newest model's as dashed suggestions.
  const itemBoxes = document.getElementById("item-boxes");
  if (itemBoxes && labelloop.config.final_boxes) {
    const { config } = labelloop;
    const guess = labelloop.api("GET", `/projects/${config.project_id}/items/${config.item_id}/guess`).catch(() => null);
    createBoxEditor(itemBoxes, { editable: false }).load(config.final_boxes, guess);
  }
  Object.assign(labelloop, { createBoxEditor, createBoxReview, paintBoxLegend: paintLegend, describeBoxes: describe, boxColour: colourOf });
})();
