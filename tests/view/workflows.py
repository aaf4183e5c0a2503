"""The workflows the web view's tests look at, and how they are run: real `argoexec run`
processes on a state directory of the test's own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[2]
SCRIPT = "<script>window.pwned=1</script>"

# A finished run holding hostile text everywhere a workflow's output reaches the page: a log
# line, an output parameter, an artifact, loop items' display names (the graph's labels).
HOSTILE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: hostile}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: make
        template: make
    - - name: shout
        template: shout
        arguments: {parameters: [{name: text, value: "{{item}}"}]}
        withItems: ["<b>bold</b>", "<script>window.pwned=3</script>"]
  - name: make
    container:
      image: alpine
      command: [sh, -c]
      args:
      - |
        echo '<script>window.pwned=1</script><img src=x onerror=window.pwned=2>'
        printf '<script>alert(1)</script>' > /tmp/out.txt
        mkdir -p /tmp/dir/sub && echo hi > /tmp/dir/a.txt && echo there > /tmp/dir/sub/b.txt
    outputs:
      parameters: [{name: html, valueFrom: {path: /tmp/out.txt}}]
      artifacts:
      - {name: page, path: /tmp/out.txt}
      - {name: folder, path: /tmp/dir}
      - {name: loose, path: /tmp/dir, archive: {none: {}}}
  - name: shout
    inputs: {parameters: [{name: text}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.text}}"]}
"""

# A run that waits at a suspend step, then runs a pod.
GATED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: gated}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gate, template: gate}
    - - {name: work, template: work}
  - name: gate
    suspend: {}
  - name: work
    container: {image: alpine, command: [sh, -c, "echo work done"]}
"""

# A run whose pod says it started, then sleeps (until stopped).
SLEEPER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: sleeper}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: nap, template: nap}
  - name: nap
    container: {image: alpine, command: [sh, -c, "echo started; sleep 300"]}
"""


def workflow(state: Path, name: str) -> dict[str, Any]:
    try:
        return dict(json.loads((state / name / "workflow.json").read_text()))
    except (OSError, ValueError):
        return {}


def start(state: Path, document: str, name: str) -> subprocess.Popen[bytes]:
    """`argoexec run` of `document` in the background."""
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    path = state.parent / f"{name}.yaml"
    path.write_text(document)
    return subprocess.Popen(
        [sys.executable, "-m", "argoexec", "run", str(path), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )


def wait_for(state: Path, name: str, check: Any, timeout: float = 120.0) -> dict[str, Any]:
    """The run's Workflow once `check(workflow)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workflow(state, name)
        if found and check(found):
            return found
        time.sleep(0.2)
    raise AssertionError(f"workflow {name} never got there: {workflow(state, name).get('status')}")


def node_named(found: dict[str, Any], display: str) -> dict[str, Any]:
    nodes = (found.get("status") or {}).get("nodes") or {}
    return next(n for n in nodes.values() if n.get("displayName") == display)


def has_node(display: str, phase: str) -> Any:
    def check(found: dict[str, Any]) -> bool:
        nodes = (found.get("status") or {}).get("nodes") or {}
        return any(
            n.get("displayName") == display and n.get("phase") == phase for n in nodes.values()
        )

    return check


def phase_is(*phases: str) -> Any:
    return lambda found: (found.get("status") or {}).get("phase") in phases
