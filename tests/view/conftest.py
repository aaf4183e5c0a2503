"""Fixtures of the view's tests: a state directory with real runs, `argoexec ui` serving it on
127.0.0.1, Debian's chromium driven by Playwright, and the examples run once per session (the
graph's tests)."""

from __future__ import annotations

import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controller.test_examples import EXAMPLES, Run, run_workflow
from tests.servers.procs import require
from tests.view.workflows import (
    GATED,
    HOSTILE,
    REPO,
    SLEEPER,
    has_node,
    phase_is,
    start,
    wait_for,
)

# Where the browser tests leave their screenshots: under build/ (ignored by git), for a person
# or a CI job to look at.
SCREENSHOTS = REPO / "build" / "test-artifacts"
CHROMIUM = ("chromium", "chromium-browser")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state directory holding a finished run (`hostile`), one waiting at a suspend step
    (`gated`) and one whose pod sleeps (`sleeper`); the runs still going are ended after."""
    root = tmp_path_factory.mktemp("ui") / "state"
    root.mkdir()
    hostile = start(root, HOSTILE, "hostile")
    assert hostile.wait(timeout=180) in (0, 1)
    going = [start(root, GATED, "gated"), start(root, SLEEPER, "sleeper")]
    try:
        wait_for(root, "gated", has_node("gate", "Running"))
        wait_for(root, "sleeper", has_node("nap", "Running"))
        yield root
    finally:
        for process in going:
            if process.poll() is None:
                process.terminate()
        for process in going:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def serve(state: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    """`argoexec ui` on `state` (any free port); the process and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "argoexec", "ui", "--state-dir", str(state), "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            seen += line
            found = re.search(r"(http://\S+)", line)
            if found:
                return process, found.group(1)
        if process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"argoexec ui did not start: {seen}")


@pytest.fixture(scope="module")
def ui(state: Path) -> Iterator[str]:
    """The view's base URL (``http://127.0.0.1:PORT``)."""
    process, url = serve(state)
    try:
        yield url.rsplit("/workflows", 1)[0]
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium (``--no-sandbox``: the tests run as root)."""
    executable = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    require(executable is not None, "chromium is not installed (apt-get install chromium)")
    require(shutil.which("dot") is not None, "Graphviz is not installed (apt-get install graphviz)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    # The pages keep to their own Content-Security-Policy: a violation is an error too.
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"the page's scripts failed: {errors}"


@pytest.fixture(scope="session")
def example_runs() -> dict[str, Run]:
    return {}


@pytest.fixture
def example(
    example_runs: dict[str, Run],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Run]:
    """``example("steps")``: the finished run of examples/workflows/steps.yaml (its Workflow
    and state directory), run by the first test that asks (in that test's clean env)."""

    def run(stem: str) -> Run:
        if stem not in example_runs:
            state = tmp_path_factory.mktemp(f"state-{stem}")
            example_runs[stem] = run_workflow(capsys, monkeypatch, state, EXAMPLES / f"{stem}.yaml")
        return example_runs[stem]

    return run


__all__ = ["SCREENSHOTS", "phase_is", "serve"]
