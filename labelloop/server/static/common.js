// Shared by the pages' scripts: the JSON API with the session cookie and its CSRF token.
"use strict";
const labelloop = (() => {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const configNode = document.getElementById("config");
  const config = configNode ? JSON.parse(configNode.textContent) : {};

  async function api(method, path, body, headers) {
    const init = { method, credentials: "same-origin", headers: Object.assign({ "X-CSRF-Token": csrf }, headers || {}) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch("/api/v1" + path, init);
    if (response.status === 401) {
      window.location.href = "/?next=" + encodeURIComponent(window.location.pathname);
      throw new Error("logged out");
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((data && data.detail) || ("HTTP " + response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // Build an element; text goes in through textContent only, never as markup.
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function labelText(value) {
    if (value === null || value === undefined) return "–";
    // A list of boxes: their count and classes (boxes.js says it in one line).
    if (config.task_type === "boxes" && Array.isArray(value) && labelloop.describeBoxes) return labelloop.describeBoxes(value);
    return Array.isArray(value) ? value.join(", ") : String(value);
  }

  // The item: its text, media player by task type, and the other fields, all as text.
  function renderItem(container, metaBox, item, taskType) {
    container.replaceChildren();
    if (item.media_url) {
      let media;
      if (taskType === "audio") media = el("audio", { controls: "" });
      else if (taskType === "video") media = el("video", { controls: "" });
      else media = el("img", { alt: "item " + item.external_id });
      media.src = item.media_url;
      container.append(media);
    }
    const payload = item.payload || {};
    if (typeof payload.text === "string") container.append(el("p", { class: "text" }, payload.text));
    // The file path of a media item says nothing the player does not show.
    const fields = Object.entries(payload).filter(([key]) => key !== "text" && !(item.media_url && key === "path"));
    if (fields.length) {
      const list = el("dl", { class: "fields" });
      for (const [key, value] of fields) {
        list.append(el("dt", {}, key), el("dd", {}, typeof value === "object" ? JSON.stringify(value) : value));
      }
      container.append(list);
    }
    if (metaBox) {
      const meta = Object.entries(item.meta || {}).map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : v));
      metaBox.textContent = item.external_id + (meta.length ? " · " + meta.join(" · ") : "");
    }
  }

  function notice(text) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // Ctrl+Enter submits the form being edited (settings and guidelines).
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  // One rule for numbers on every page (the templates' `count` and `decimal` filters
  // keep the same): counts with thousands separators, other measures with 3 decimals.
  const counts = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const decimals = new Intl.NumberFormat("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 });
  function formatCount(value) { return value === null || value === undefined ? "–" : counts.format(value); }
  function formatDecimal(value) { return value === null || value === undefined ? "–" : decimals.format(value); }

  return { api, el, labelText, renderItem, notice, typing, config, csrf, formatCount, formatDecimal };
})();
