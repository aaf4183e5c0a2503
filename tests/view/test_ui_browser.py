"""The web view in a real browser (Debian's chromium through Playwright): the list, a run's
graph, a node's outputs, logs and artifacts, live updates, and actions — on real runs."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.view.conftest import SCREENSHOTS
from tests.view.workflows import SCRIPT, node_named, phase_is, wait_for, workflow

# Generous: the runs and the page both move at the pace of a loaded machine.
WAIT_MS = 90_000
expect.set_options(timeout=WAIT_MS)


def graph_node(page: Any, node_id: str) -> Any:
    return page.locator(f'#graph g.node[id="node-{node_id}"]')


def open_run(page: Any, ui: str, name: str) -> None:
    page.goto(f"{ui}/workflows")
    page.locator(f'tr.run[data-name="{name}"] a.run-link').click()
    page.wait_for_url(f"**/workflows/default/{name}")
    page.locator("#graph svg").wait_for(timeout=WAIT_MS)


def test_the_list_shows_every_run_and_filters_them_by_phase_and_name(page: Any, ui: str) -> None:
    page.goto(f"{ui}/")
    rows = page.locator("#runs tr.run")
    rows.first.wait_for()
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.name)")) == [
        "gated", "hostile", "sleeper",
    ]  # fmt: skip
    assert page.locator('tr.run[data-name="hostile"]').get_attribute("data-phase") == "Succeeded"
    page.select_option("#filter-phase", "Running")
    expect(page.locator("#runs tr.run")).to_have_count(2)
    page.fill("#filter-name", "slee")
    expect(page.locator("#runs tr.run")).to_have_count(1)
    assert page.locator("#runs tr.run").get_attribute("data-name") == "sleeper"


def test_a_finished_run_shows_its_graph_and_a_nodes_outputs_logs_and_artifacts(
    page: Any, ui: str, state: Path
) -> None:
    make = node_named(workflow(state, "hostile"), "make")
    open_run(page, ui, "hostile")
    assert page.locator("#phase").inner_text().endswith("Succeeded")
    expect(page.locator("#run-facts")).to_contain_text("Entrypoint")
    expect(page.locator("#run-facts")).to_contain_text("3/3")
    node = graph_node(page, make["id"])
    assert "phase-Succeeded" in (node.get_attribute("class") or "")
    node.click()
    expect(page.locator("#node-name")).to_have_text("make")
    assert page.locator("#run-summary").is_hidden()
    expect(page.locator("#node-facts")).to_contain_text("hostile-make-")  # its pod
    outputs = page.locator("#node-outputs")
    assert "<script>alert(1)</script>" in outputs.inner_text()
    logs = page.locator("#node-logs")
    expect(logs).to_have_attribute("data-ended", "true")
    assert SCRIPT in logs.inner_text()
    assert page.locator("#node-artifacts li").evaluate_all(
        "items => items.map(i => i.dataset.artifact)"
    ) == ["page", "folder", "loose"]
    page.locator('li[data-artifact="folder"] button.artifact-preview').click()
    expect(page.locator("#preview-entries")).to_contain_text("sub/b.txt")
    with page.expect_download() as download:
        page.locator('li[data-artifact="page"] a.artifact-download').click()
    data = Path(download.value.path()).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("out.txt")
        assert member is not None and member.read() == b"<script>alert(1)</script>"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ui-run-page.png"), full_page=True)
    assert page.evaluate("window.pwned") is None


def test_hostile_names_in_the_graph_and_the_tree_render_as_text(page: Any, ui: str) -> None:
    open_run(page, ui, "hostile")
    svg = page.locator("#graph svg")
    assert "shout(0:<b>bold</b>)" in (svg.text_content() or "")
    assert svg.locator("b, script, img").count() == 0
    page.click("#show-tree")
    tree = page.locator("#tree")
    assert "shout(1:<script>window.pwned=3</script>)" in tree.inner_text()
    assert tree.locator("b, script, img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_resuming_a_suspended_run_turns_its_nodes_green_live(
    page: Any, ui: str, state: Path
) -> None:
    gate = node_named(workflow(state, "gated"), "gate")
    open_run(page, ui, "gated")
    assert "phase-Running" in (graph_node(page, gate["id"]).get_attribute("class") or "")
    page.click('#actions button[data-action="resume"]')
    page.click("#confirm-ok")
    # No reload: the page follows the run through its event stream.
    succeeded = re.compile(r"\bphase-Succeeded\b")
    expect(graph_node(page, gate["id"])).to_have_class(succeeded)
    expect(page.locator("#run")).to_have_attribute("data-phase", "Succeeded")
    work = node_named(wait_for(state, "gated", phase_is("Succeeded")), "work")
    expect(graph_node(page, work["id"])).to_have_class(succeeded)


def test_a_running_pod_streams_its_log_and_stop_ends_the_run(
    page: Any, ui: str, state: Path
) -> None:
    nap = node_named(workflow(state, "sleeper"), "nap")
    open_run(page, ui, "sleeper")
    graph_node(page, nap["id"]).click()
    expect(page.locator("#node-logs")).to_contain_text("started")
    assert page.locator("#node-logs").get_attribute("data-ended") == "false"
    page.click('#actions button[data-action="stop"]')
    assert re.search(r"Stop workflow sleeper\?", page.locator("#confirm-text").inner_text())
    page.click("#confirm-ok")
    expect(page.locator("#run")).to_have_attribute(
        "data-phase", re.compile(r"^(Failed|Error)$"), timeout=WAIT_MS
    )
    assert "stopped" in page.locator("#action-result").inner_text()
    final = wait_for(state, "sleeper", phase_is("Failed", "Error"))
    assert "Stopped" in str(final["status"].get("message"))
