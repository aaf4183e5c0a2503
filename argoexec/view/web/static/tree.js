// The node tree of a run's page, as `argoexec get` prints it: a node sits under the step
// group or retry that lists it, else under its boundary (Steps, DAG); nodes without a boundary
// are the roots. Each node is a link to itself (#node=ID); everything is text. These are the
// rules of `argoexec.controller.render.build_forest` (the CLI's tree): keep them the same.
"use strict";

const TREE_BOUNDARY = ["Steps", "DAG"];
const TREE_GROUP = ["StepGroup", "Retry"];

function treeItems(all, shownPerParent) {
  const groupOf = {};
  for (const [id, node] of Object.entries(all)) {
    if (TREE_GROUP.includes(node.type)) for (const child of node.children || []) groupOf[child] = id;
  }
  const kids = {};
  const roots = [];
  for (const [id, node] of Object.entries(all)) {
    if (node.phase === "Omitted") continue;
    let parent = groupOf[id];
    if (parent === undefined) {
      const boundary = node.boundaryID || "";
      if (!boundary) { roots.push(id); continue; }
      parent = all[boundary] && TREE_BOUNDARY.includes(all[boundary].type) ? boundary : undefined;
    }
    if (parent !== undefined) (kids[parent] = kids[parent] || []).push(id);
  }
  const byStart = (a, b) =>
    String(all[a].startedAt || "~").localeCompare(String(all[b].startedAt || "~")) ||
    String(all[a].displayName || "").localeCompare(String(all[b].displayName || ""), undefined, { numeric: true });
  const seen = new Set();

  function branch(id) {
    const node = all[id];
    seen.add(id);
    const label = el("a", { class: "tree-node phase-" + node.phase, href: "#node=" + encodeURIComponent(id), "data-node-id": id },
      el("span", { class: "icon", text: ICONS[node.phase] || "" }), " " + (node.displayName || node.name),
      el("span", { class: "muted", text: "  " + (node.type || "") + " " + duration(span(node.startedAt, node.finishedAt)) }));
    const item = el("li", {}, label);
    const own = (kids[id] || []).filter((c) => !seen.has(c)).sort(byStart);
    if (own.length) {
      const list = el("ul", {}, ...own.slice(0, shownPerParent).map(branch));
      if (own.length > shownPerParent) {
        list.append(el("li", { class: "muted", text: "… and " + (own.length - shownPerParent) + " more (see the graph's folded nodes)" }));
      }
      item.append(list);
    }
    return item;
  }

  return roots.sort(byStart).map(branch);
}
