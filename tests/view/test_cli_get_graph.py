"""``argoexec get NAME -o dot|svg`` on the state directory of a real run."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from argoexec.view.dot import element_id
from tests.servers.procs import require_binary

SVG = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parents[2]


def get(run: Any, output: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["get", run.name, "-o", output, "--state-dir", str(run.state)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_get_o_dot_prints_the_runs_graph_as_dot(example: Any, capsys: Any) -> None:
    run = example("exit-handler")
    code, out, err = get(run, "dot", capsys)
    assert code == 0, err
    assert out.startswith(f'digraph "{run.name}" {{') and out.endswith("}\n")
    for node_id in run.nodes:
        assert f'id="{element_id(node_id)}"' in out
    assert out.count("style=dashed") == 2  # the step's and the workflow's exit handlers


@pytest.mark.slow
def test_get_o_svg_draws_it_with_an_element_per_node(example: Any, capsys: Any) -> None:
    require_binary("dot")
    run = example("steps")
    code, out, err = get(run, "svg", capsys)
    assert code == 0, err
    svg = ET.fromstring(out)
    drawn = {g.get("id") for g in svg.iter(f"{SVG}g") if "node" in (g.get("class") or "")}
    assert drawn == {element_id(i) for i in run.nodes}


@pytest.mark.slow
def test_get_o_svg_without_dot_fails_saying_how_to_install_it(
    example: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = example("steps")
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = get(run, "svg", capsys)
    assert (code, out) == (64, "")
    assert "Graphviz's 'dot' is not installed (apt-get install graphviz" in err


@pytest.mark.slow
def test_only_the_graph_outputs_import_graphviz_and_the_view(example: Any) -> None:
    run = example("steps")
    state = str(run.state)
    code = (
        "import sys, io, contextlib; from argoexec.cli import main\n"
        "def loaded(): return sorted(m for m in sys.modules if m.startswith(('graphviz', "
        "'argoexec.view.')))\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['list', '--state-dir', {state!r}])\n"
        f"    main(['get', {run.name!r}, '--state-dir', {state!r}])\n"
        f"    main(['get', {run.name!r}, '-o', 'json', '--state-dir', {state!r}])\n"
        "before = loaded()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['get', {run.name!r}, '-o', 'dot', '--state-dir', {state!r}])\n"
        "print(before, 'graphviz' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[] True"
