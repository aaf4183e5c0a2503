"""`argoexec run` output modes: `--log` (each pod's main log as it finishes, then the tree) and
`-o yaml` (the final Workflow object)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


def test_log_prints_each_pods_log_prefixed_with_its_step_then_the_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    code = main(["run", str(DEMO), "--log", "--state-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert "prepare: prepared 5 words" in lines
    assert "show: report: 5 words, 27 bytes" in lines
    # logs come as pods finish: the last step's log is after the first one's
    assert lines.index("prepare: prepared 5 words") < lines.index("show: report: 5 words, 27 bytes")
    assert any(line.startswith("Status:") and "Succeeded" in line for line in lines)


def test_output_yaml_is_the_final_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    code = main(["run", str(DEMO), "-o", "yaml", "--state-dir", str(tmp_path), "-p", "words=a b"])
    workflow = yaml.safe_load(capsys.readouterr().out)
    assert code == 0
    assert workflow["kind"] == "Workflow"
    assert workflow["status"]["phase"] == "Succeeded"
    assert workflow["spec"]["arguments"]["parameters"] == [{"name": "words", "value": "a b"}]
    shows = [n for n in workflow["status"]["nodes"].values() if n["displayName"] == "show"]
    assert shows[0]["outputs"]["result"] == "report: 2 words, 4 bytes"


def test_without_the_sandbox_scripts_and_shell_lines_use_the_pods_volumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unsandboxed, the executor's fixed paths (/argo/staging, /argo/inputs...) and the paths in
    a shell line are mapped to the pod's volumes: nothing is written to the host's root."""
    argo_existed = Path("/argo").exists()
    code = main(["run", str(DEMO), "--no-sandbox", "--log", "--state-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "prepare: prepared 5 words" in out.splitlines()  # a script, staged in its volume
    assert "count-lines: 5" in out.splitlines()  # `wc -l < /tmp/input/words.txt`, mapped
    assert "show: report: 5 words, 27 bytes" in out.splitlines()
    assert Path("/argo").exists() == argo_existed


def test_a_parameter_file_sets_arguments_and_p_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    params = tmp_path / "params.yaml"
    params.write_text("words: one two three\nunused: 3\n")
    argv = ["run", str(DEMO), "-f", str(params), "-o", "json", "--state-dir", str(tmp_path / "s")]
    assert main(argv) == 0
    workflow = yaml.safe_load(capsys.readouterr().out)
    arguments = workflow["spec"]["arguments"]["parameters"]
    assert {"name": "words", "value": "one two three"} in arguments
    assert {"name": "unused", "value": "3"} in arguments
    assert main([*argv, "-p", "words=just one"]) == 0
    workflow = yaml.safe_load(capsys.readouterr().out)
    shows = [n for n in workflow["status"]["nodes"].values() if n["displayName"] == "show"]
    assert shows[0]["outputs"]["result"] == "report: 2 words, 9 bytes"


def test_the_executor_knobs_set_for_run_reach_the_executor_in_its_pods(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Argo's controller passes its `executor.env`: a cap of 10 bytes on extraction makes
    the demo's 27-byte word list too large for the step that loads it."""
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    monkeypatch.setenv("ARGOEXEC_MAX_EXTRACT_BYTES", "10")
    code = main(["run", str(DEMO), "-o", "yaml", "--state-dir", str(tmp_path)])
    workflow = yaml.safe_load(capsys.readouterr().out)
    assert code != 0
    pods = [n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod"]
    loads = [n for n in pods if n["displayName"] in ("count-lines", "count-chars")]
    assert loads and all(n["phase"] == "Error" for n in loads)
    for node in loads:
        assert "artifact 'words'" in node["message"]
        assert "size cap of 10 bytes (set by ARGOEXEC_MAX_EXTRACT_BYTES)" in node["message"]


LOOP = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: loop}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: each, template: echo, withItems: [a, b, c]}
  - name: echo
    container: {image: alpine, command: [echo, hi]}
"""


@pytest.mark.parametrize(
    "case",
    [
        (["--max-children", "2"], {}, 2),
        ([], {"ARGOEXEC_MAX_CHILDREN": "1"}, 1),
        (["--max-children", "2"], {"ARGOEXEC_MAX_CHILDREN": "1"}, 2),  # the option wins
    ],
)
def test_the_children_cap_comes_from_the_option_else_the_environment(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[list[str], dict[str, str], int],
) -> None:
    flags, env, cap = case
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    document = tmp_path / "loop.yaml"
    document.write_text(LOOP)
    code = main(["run", str(document), "-o", "json", "--state-dir", str(tmp_path), *flags])
    workflow = yaml.safe_load(capsys.readouterr().out)

    assert code == 1
    [node] = [n for n in workflow["status"]["nodes"].values() if n["displayName"] == "each"]
    assert node["phase"] == "Error"
    assert f"withItems expands to 3 items, more than the {cap} children" in node["message"]


@pytest.mark.parametrize("value", ["-1", "many"])
def test_a_bad_cap_option_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code = main(["run", str(DEMO), "--state-dir", str(tmp_path), "--max-pods", value])

    assert code == 2
    assert "--max-pods" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was run
