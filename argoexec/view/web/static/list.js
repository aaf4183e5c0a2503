// The list of workflows: polled, filtered in the page by name and phase.
"use strict";

(function () {
  const section = document.getElementById("list");
  const onlyNamespace = section.dataset.namespace;
  const body = document.querySelector("#runs tbody");
  const nameFilter = document.getElementById("filter-name");
  const phaseFilter = document.getElementById("filter-phase");
  const params = new URLSearchParams(location.search);
  nameFilter.value = params.get("name") || "";
  phaseFilter.value = params.get("phase") || "";
  const ROWS_SHOWN = 500;
  let items = [];

  function row(item) {
    const link = el("a", { class: "run-link", href: "/workflows/" + encodeURIComponent(item.namespace) + "/" + encodeURIComponent(item.name), text: item.name });
    const phase = item.orphaned ? item.phase + " (orphaned)" : item.phase;
    const tr = el("tr", { class: "run", "data-name": item.name, "data-phase": item.phase },
      el("td", { class: "icon phase-" + item.phase, text: ICONS[item.phase] || "" }),
      el("td", {}, link),
      el("td", { text: item.namespace }),
      el("td", {}, phaseBadge(item.phase)),
      el("td", { text: when(item.startedAt) }),
      el("td", { text: duration(item.duration) }),
      el("td", { text: item.progress }),
      el("td", { class: "message", text: item.message }));
    if (item.orphaned) tr.title = phase;
    tr.addEventListener("click", (event) => { if (event.target.tagName !== "A") link.click(); });
    return tr;
  }

  function render() {
    const name = nameFilter.value.trim().toLowerCase();
    const phase = phaseFilter.value;
    const shown = items.filter((item) =>
      (!onlyNamespace || item.namespace === onlyNamespace) &&
      (!name || item.name.toLowerCase().includes(name)) &&
      (!phase || item.phase === phase));
    // A page of rows at most: the filters find the others.
    body.replaceChildren(...shown.slice(0, ROWS_SHOWN).map(row));
    document.getElementById("list-empty").hidden = shown.length > 0;
    const more = shown.length > ROWS_SHOWN ? " (the first " + ROWS_SHOWN + " shown: filter to find the others)" : "";
    document.getElementById("list-count").textContent = shown.length + " of " + items.length + more;
  }

  function remember() {
    const query = new URLSearchParams();
    if (nameFilter.value) query.set("name", nameFilter.value);
    if (phaseFilter.value) query.set("phase", phaseFilter.value);
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
    render();
  }

  async function refresh() {
    const error = document.getElementById("list-error");
    try {
      items = (await getJSON("/api/v1/workflows")).items;
      error.hidden = true;
      render();
    } catch (exc) {
      error.textContent = "cannot list the workflows: " + exc.message;
      error.hidden = false;
    }
  }

  nameFilter.addEventListener("input", remember);
  phaseFilter.addEventListener("change", remember);
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 2000);
})();
