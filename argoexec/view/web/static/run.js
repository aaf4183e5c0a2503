// A run's page: the graph (Graphviz's SVG), the node tree, a node's details and logs, and
// the actions. Follows the run through server-sent events; nothing reloads the page.
"use strict";

(function () {
  const section = document.getElementById("run");
  const namespace = section.dataset.namespace;
  const name = section.dataset.name;
  const FINISHED = ["Succeeded", "Failed", "Error"];
  const LOG_KEEP = 2 * 1024 * 1024;
  const CHILDREN_SHOWN = 200;
  let workflow = null;
  let graphVersion = null;
  let loading = false;
  let again = false;
  let logSource = null;
  let shownNode = null;

  const $ = (id) => document.getElementById(id);
  const nodes = () => (workflow && workflow.status && workflow.status.nodes) || {};
  const selected = () => {
    const match = /^#node=(.+)$/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  };

  // --- the workflow --------------------------------------------------------------------

  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const answer = await fetch(api(namespace, name));
      if (answer.status === 404) { gone(); return; }
      if (!answer.ok) throw new Error((await answer.text()).trim());
      const version = answer.headers.get("X-Workflow-Version");
      workflow = await answer.json();
      renderHead();
      renderSummary();
      renderTree();
      if (version !== graphVersion) scheduleGraph(version);
      showNode(selected(), false);
    } catch (exc) {
      $("run-message").textContent = "cannot read the workflow: " + exc.message;
    } finally {
      loading = false;
      if (again) { again = false; load(); }
    }
  }

  function gone() {
    $("phase").replaceChildren(phaseBadge("Deleted"));
    $("run-message").textContent = "this workflow is gone (deleted)";
    for (const button of document.querySelectorAll("#actions button")) button.disabled = true;
  }

  function phaseOf() { return (workflow.status && workflow.status.phase) || "Pending"; }

  function renderHead() {
    const status = workflow.status || {};
    const phase = phaseOf();
    section.dataset.phase = phase;
    $("phase").replaceChildren(phaseBadge(phase));
    $("phase-icon").textContent = ICONS[phase] || "";
    $("phase-icon").className = "icon phase-" + phase;
    $("progress").textContent = status.progress ? "progress " + status.progress : "";
    $("duration").textContent = duration(span(status.startedAt, status.finishedAt));
    $("run-message").textContent = status.message || "";
    renderActions(phase);
  }

  // --- the graph -----------------------------------------------------------------------

  // A big graph takes Graphviz a while: while a run changes every moment, the page has one
  // graph request at a time, at most every GRAPH_EVERY ms, for the newest version then.
  const GRAPH_EVERY = 1500;
  let graphAt = 0;
  let graphTimer = null;
  let graphBusy = false;
  let graphWanted = null;

  function scheduleGraph(version) {
    graphWanted = version;
    if (graphBusy || graphTimer) return;
    const wait = graphAt + GRAPH_EVERY - Date.now();
    if (wait > 0) {
      graphTimer = setTimeout(() => { graphTimer = null; scheduleGraph(graphWanted); }, wait);
      return;
    }
    graphBusy = true;
    graphAt = Date.now();
    loadGraph(version).catch(() => {}).finally(() => {
      graphBusy = false;
      if (graphWanted !== graphVersion) scheduleGraph(graphWanted);
    });
  }

  // What a drawing may hold: Graphviz's elements, and links to the page's own nodes only.
  const SVG_ELEMENTS = new Set(["svg", "g", "title", "a", "path", "polygon", "ellipse", "polyline", "text", "defs", "desc"]);

  function clean(svg) {
    for (const node of [...svg.querySelectorAll("*")]) {
      if (!SVG_ELEMENTS.has(node.localName)) { node.remove(); continue; }
      for (const attr of [...node.attributes]) {
        const link = attr.localName === "href";
        if (/^on/i.test(attr.name) || (link && !attr.value.startsWith("#node="))) node.removeAttributeNode(attr);
      }
    }
  }

  async function loadGraph(version) {
    const answer = await fetch(api(namespace, name, "graph.svg"));
    const box = $("graph");
    graphVersion = version;
    if (!answer.ok) {
      box.replaceChildren(el("p", { class: "error", text: (await answer.text()).trim() + " (the Tree tab shows every node)" }));
      return;
    }
    const parsed = new DOMParser().parseFromString(await answer.text(), "image/svg+xml");
    const svg = parsed.documentElement;
    if (svg.localName !== "svg") return;
    clean(svg);
    box.replaceChildren(document.importNode(svg, true));
    markSelected();
  }

  // The SVG id of a node, as `argoexec.view.dot.element_id` writes it.
  function elementId(id) {
    let out = "node-";
    for (const char of id) {
      if (/[A-Za-z0-9.:-]/.test(char)) out += char;
      else for (const byte of new TextEncoder().encode(char)) out += "_" + byte.toString(16).padStart(2, "0");
    }
    return out;
  }

  function markSelected() {
    const id = selected();
    for (const node of document.querySelectorAll("#graph g.node")) {
      node.classList.toggle("selected", !!id && node.id === elementId(id));
    }
    for (const item of document.querySelectorAll("#tree .tree-node")) {
      item.classList.toggle("selected", item.dataset.nodeId === id);
    }
  }

  // --- the tree ------------------------------------------------------------------------

  function renderTree() {
    $("tree").replaceChildren(...treeItems(nodes(), CHILDREN_SHOWN));
    markSelected();
  }

  // --- a node --------------------------------------------------------------------------

  function fact(list, term, value) {
    if (value === undefined || value === null || value === "") return;
    list.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  }

  function pairs(table, rows) {
    table.replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", {}, el("pre", { text: v })))));
    table.parentElement.hidden = rows.length === 0;
  }

  function parameterRows(side) {
    const rows = [];
    for (const p of (side && side.parameters) || []) rows.push([p.name, p.value === undefined ? "" : String(p.value)]);
    if (side && side.result !== undefined) rows.push(["result", String(side.result)]);
    if (side && side.exitCode !== undefined) rows.push(["exitCode", String(side.exitCode)]);
    return rows;
  }

  // What the page shows beside the graph when no node is chosen: the workflow itself.
  function renderSummary() {
    const meta = workflow.metadata || {};
    const spec = workflow.spec || {};
    const status = workflow.status || {};
    const facts = $("run-facts");
    facts.replaceChildren();
    fact(facts, "Namespace", meta.namespace);
    fact(facts, "Phase", status.phase);
    fact(facts, "Entrypoint", spec.entrypoint);
    fact(facts, "Created", when(meta.creationTimestamp));
    fact(facts, "Started", when(status.startedAt));
    fact(facts, "Finished", when(status.finishedAt));
    fact(facts, "Duration", duration(span(status.startedAt, status.finishedAt)));
    fact(facts, "Progress", status.progress);
    fact(facts, "Message", status.message);
    const parameters = ((spec.arguments && spec.arguments.parameters) || [])
      .map((p) => [p.name, p.value === undefined ? "" : String(p.value)]);
    pairs($("run-parameters"), parameters);
    const outputs = status.outputs || {};
    pairs($("run-outputs"), [
      ...(outputs.parameters || []).map((p) => [p.name, p.value === undefined ? "" : String(p.value)]),
      ...(outputs.artifacts || []).map((a) => [a.name, "(artifact)"]),
    ]);
    pairs($("run-labels"), Object.entries(meta.labels || {}).map(([k, v]) => [k, String(v)]));
  }

  function showNode(id, scroll) {
    const box = $("node-details");
    markSelected();
    const fold = id && /^fold:(.+)$/.exec(id);
    const node = !id ? null : fold ? nodes()[fold[1]] : nodes()[id];
    $("run-summary").hidden = !!node;
    if (!node) { box.hidden = true; stopLogs(); shownNode = null; return; }
    box.hidden = false;
    box.dataset.nodeId = id;
    const facts = $("node-facts");
    facts.replaceChildren();
    if (fold) {
      $("node-name").textContent = "children of " + (node.displayName || node.name);
      showFolded(node);
      for (const part of ["node-inputs-box", "node-outputs-box", "node-artifacts-box", "node-logs-box"]) $(part).hidden = true;
      $("node-message").textContent = "";
      stopLogs();
      shownNode = id;
      return;
    }
    $("node-folded").hidden = true;
    $("node-name").textContent = node.displayName || node.name;
    $("node-icon").textContent = ICONS[node.phase] || "";
    $("node-icon").className = "icon phase-" + node.phase;
    fact(facts, "Phase", node.phase);
    fact(facts, "Type", node.type);
    fact(facts, "Name", node.name);
    fact(facts, "ID", node.id);
    fact(facts, "Template", node.templateName || (node.templateRef && node.templateRef.template));
    fact(facts, "Started", when(node.startedAt));
    fact(facts, "Finished", when(node.finishedAt));
    fact(facts, "Duration", duration(span(node.startedAt, node.finishedAt)));
    fact(facts, "Host", node.hostNodeName);
    fact(facts, "Pod IP", node.podIP);
    $("node-message").textContent = node.message || "";
    $("node-inputs-box").hidden = false;
    $("node-outputs-box").hidden = false;
    pairs($("node-inputs"), parameterRows(node.inputs));
    pairs($("node-outputs"), parameterRows(node.outputs));
    showArtifacts(id, node);
    if (shownNode !== id) { showLogs(id, node); shownNode = id; }
    else if (node.type === "Pod" && !logSource && !FINISHED.includes(node.phase)) showLogs(id, node);
    if (scroll) box.scrollIntoView({ block: "nearest" });
  }

  function showFolded(parent) {
    const all = nodes();
    const order = { Failed: 0, Error: 0, Running: 1, Pending: 2 };
    const children = (parent.children || []).filter((c) => all[c])
      .sort((a, b) => (order[all[a].phase] ?? 3) - (order[all[b].phase] ?? 3));
    $("folded-list").replaceChildren(...children.slice(0, 500).map((c) =>
      el("li", {}, el("a", { href: "#node=" + encodeURIComponent(c), class: "phase-" + all[c].phase },
        (ICONS[all[c].phase] || "") + " " + (all[c].displayName || c)))));
    $("node-folded").hidden = false;
  }

  function showArtifacts(id, node) {
    const list = $("node-artifacts");
    const artifacts = [];
    const named = new Set();
    for (const side of ["outputs", "inputs"]) {
      for (const a of (node[side] && node[side].artifacts) || []) {
        if (!named.has(a.name)) { named.add(a.name); artifacts.push([side, a]); }
      }
    }
    list.replaceChildren(...artifacts.map(([side, a]) => {
      const url = api(namespace, name, "nodes", id, "artifacts", a.name);
      const download = el("a", { class: "artifact-download", href: url, download: "", text: a.name });
      const look = el("button", { class: "artifact-preview", type: "button", text: "preview" });
      look.addEventListener("click", () => preview(url, a.name));
      return el("li", { "data-artifact": a.name }, download, " ", el("span", { class: "muted", text: side === "inputs" ? "input " : "" }), look);
    }));
    $("node-artifacts-box").hidden = artifacts.length === 0;
    $("artifact-preview").hidden = true;
  }

  async function preview(url, artifact) {
    const box = $("artifact-preview");
    $("preview-title").textContent = artifact;
    $("preview-entries").replaceChildren();
    $("preview-text").textContent = "";
    box.hidden = false;
    try {
      const shown = await getJSON(url + "/preview");
      $("preview-title").textContent = artifact + " (" + shown.filename + ", " + shown.kind + ")";
      for (const entry of shown.entries || []) {
        const size = entry.size === null || entry.size === undefined ? "" : "  " + entry.size + " B";
        $("preview-entries").append(el("li", { text: entry.name + (entry.type === "file" ? size : "/") }));
      }
      if (shown.text !== undefined) $("preview-text").textContent = shown.text + (shown.truncated ? "\n…" : "");
      else if (shown.kind === "binary") $("preview-text").textContent = "(binary: download it to look)";
    } catch (exc) {
      $("preview-text").textContent = exc.message;
    }
  }

  // --- logs ----------------------------------------------------------------------------

  function stopLogs() {
    if (logSource) { logSource.close(); logSource = null; }
  }

  async function showLogs(id, node) {
    stopLogs();
    const pre = $("node-logs");
    pre.textContent = "";
    const choose = $("log-container");
    if (node.type !== "Pod") { $("node-logs-box").hidden = true; return; }
    $("node-logs-box").hidden = false;
    let containers = [];
    let pod = "";
    try {
      ({ containers, pod } = await getJSON(api(namespace, name, "nodes", id, "containers")));
    } catch (exc) {
      pre.textContent = exc.message;
      return;
    }
    if (selected() !== id) return;
    if (pod && !$("node-facts").querySelector("[data-fact=pod]")) {
      $("node-facts").append(el("dt", { text: "Pod", "data-fact": "pod" }), el("dd", { text: pod }));
    }
    choose.replaceChildren(...containers.map((c) => el("option", { value: c, text: c })));
    if (!containers.length) { pre.textContent = "(no logs yet)"; return; }
    choose.onchange = () => follow(id, choose.value);
    follow(id, containers[0]);
  }

  function follow(id, container) {
    stopLogs();
    const pre = $("node-logs");
    pre.textContent = "";
    const url = api(namespace, name, "nodes", id, "log") + "?container=" + encodeURIComponent(container);
    $("log-download").href = api(namespace, name, "nodes", id, "log.txt") + "?container=" + encodeURIComponent(container);
    const source = new EventSource(url);
    logSource = source;
    source.addEventListener("skipped", (event) => {
      pre.textContent = "… (" + JSON.parse(event.data).skipped + " earlier bytes: see the full log)\n";
    });
    source.onmessage = (event) => {
      let text = pre.textContent + JSON.parse(event.data);
      if (text.length > LOG_KEEP) text = text.slice(text.length - LOG_KEEP);
      pre.textContent = text;
      pre.scrollTop = pre.scrollHeight;
    };
    source.addEventListener("end", () => { source.close(); if (logSource === source) logSource = null; pre.dataset.ended = "true"; });
    pre.dataset.ended = "false";
  }

  // --- actions -------------------------------------------------------------------------

  function suspendedNodes() {
    return Object.values(nodes()).filter((n) => n.type === "Suspend" && n.phase === "Running");
  }

  function renderActions(phase) {
    const done = FINISHED.includes(phase);
    const spec = workflow.spec || {};
    const allowed = {
      stop: !done, terminate: !done, suspend: !done && !spec.suspend,
      resume: !done && (!!spec.suspend || suspendedNodes().length > 0),
      retry: phase === "Failed" || phase === "Error", resubmit: done, delete: done,
    };
    for (const button of document.querySelectorAll("#actions button")) button.disabled = !allowed[button.dataset.action];
  }

  function confirmAction(verb) {
    const dialog = $("confirm");
    $("confirm-text").textContent = verb[0].toUpperCase() + verb.slice(1) + " workflow " + name + "?";
    const fields = $("confirm-parameters");
    fields.replaceChildren();
    if (verb === "resume") {
      for (const node of suspendedNodes()) {
        for (const p of (node.outputs && node.outputs.parameters) || []) {
          if (!p.valueFrom || !("supplied" in p.valueFrom)) continue;
          const input = el("input", { name: p.name, "data-parameter": p.name, value: p.value || (p.valueFrom && p.valueFrom.default) || "" });
          fields.append(el("label", {}, p.name + " (" + (node.displayName || node.name) + ") ", input));
        }
      }
    }
    dialog.returnValue = "";
    dialog.onclose = () => { if (dialog.returnValue === "ok") act(verb); };
    dialog.showModal();
  }

  async function act(verb) {
    const parameters = {};
    for (const input of document.querySelectorAll("#confirm-parameters input")) parameters[input.dataset.parameter] = input.value;
    const result = $("action-result");
    result.hidden = false;
    result.className = "result";
    result.textContent = verb + "…";
    try {
      const answer = await fetch(api(namespace, name, "actions", verb), {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ parameters }),
      });
      const body = await answer.json().catch(() => ({ ok: false, output: answer.statusText }));
      result.className = "result " + (body.ok ? "ok" : "error");
      result.textContent = (body.output || "").trim() || (body.ok ? verb + ": done" : verb + " failed");
      if (body.ok && !body.finished) result.textContent += "\n(" + verb + " goes on in the background; this page follows the run)";
      if (body.ok && body.submitted) location.href = "/workflows/" + encodeURIComponent(namespace) + "/" + encodeURIComponent(body.submitted);
      else if (body.ok && verb === "delete") location.href = "/workflows";
      else load();
    } catch (exc) {
      result.className = "result error";
      result.textContent = verb + " failed: " + exc.message;
    }
  }

  // --- wiring --------------------------------------------------------------------------

  for (const button of document.querySelectorAll("#actions button")) {
    button.addEventListener("click", () => confirmAction(button.dataset.action));
  }
  $("close-details").addEventListener("click", () => { history.replaceState(null, "", location.pathname); showNode(null); });
  $("show-graph").addEventListener("click", () => { $("graph").hidden = false; $("tree").hidden = true; $("show-graph").classList.add("on"); $("show-tree").classList.remove("on"); });
  $("show-tree").addEventListener("click", () => { $("graph").hidden = true; $("tree").hidden = false; $("show-tree").classList.add("on"); $("show-graph").classList.remove("on"); });
  window.addEventListener("hashchange", () => showNode(selected(), true));

  // A browser gives a site a handful of connections: a hidden page lets go of its event
  // streams, and takes them up again (reading the run anew) when it is shown.
  let watch = null;

  function openWatch() {
    watch = new EventSource(api(namespace, name, "watch"));
    watch.addEventListener("changed", () => load());
    watch.addEventListener("gone", () => { closeWatch(); gone(); });
    watch.onopen = () => { $("live").textContent = "● live"; };
    watch.onerror = () => { $("live").textContent = "○ reconnecting"; };
  }

  function closeWatch() {
    if (watch) { watch.close(); watch = null; }
    $("live").textContent = "";
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      closeWatch();
      stopLogs();
      shownNode = null; // its log is followed again when the page is shown
    } else if (!watch) {
      openWatch();
    }
  });
  if (!document.hidden) openWatch();
  load();
})();
