// Shared by the pages. Everything from a workflow is put in the page as text (textContent,
// attribute values), never as HTML: a workflow's output is untrusted.
"use strict";

const ICONS = {
  Succeeded: "✔", Failed: "✖", Error: "⚠", Running: "◷", Pending: "◌",
  Skipped: "○", Omitted: "○", Suspended: "⏸",
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  let s = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) { parts.push(Math.floor(s / size) + unit); s %= size; }
  }
  if (s || !parts.length) parts.push(s + "s");
  return parts.slice(0, 2).join(" ");
}

function span(startedAt, finishedAt) {
  if (!startedAt) return null;
  const end = finishedAt ? Date.parse(finishedAt) : Date.now();
  return (end - Date.parse(startedAt)) / 1000;
}

function when(text) {
  if (!text) return "";
  const date = new Date(text);
  return isNaN(date) ? String(text) : date.toLocaleString();
}

function phaseBadge(phase) {
  return el("span", { class: "phase phase-" + phase, text: (ICONS[phase] || "") + " " + phase });
}

async function getJSON(url) {
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error((await answer.text()).trim() || answer.statusText);
  return answer.json();
}

function api(...parts) {
  return "/api/v1/workflows/" + parts.map(encodeURIComponent).join("/");
}
