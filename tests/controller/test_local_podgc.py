"""`spec.podGC` on this machine: whatever the strategy, a pod's processes and directories are
gone once its node has ended, and its logs stay in the run's directory (`argoexec logs` reads
them) until the run itself is removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _bwrap() -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")


@pytest.mark.parametrize("strategy", ["OnPodSuccess", "OnPodCompletion", "OnWorkflowCompletion"])
def test_pods_leave_only_their_logs_whatever_the_strategy(
    tmp_path: Path, strategy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (REPO / "examples/workflows/pod-gc-strategy.yaml").read_text()
    text = text.replace("generateName: pod-gc-strategy-", "name: gc")
    text = text.replace("strategy: OnPodSuccess", f"strategy: {strategy}")
    text = text.replace('args: ["exit 0"]', 'args: ["echo done"]')
    source = tmp_path / "wf.yaml"
    source.write_text(text)
    state = tmp_path / "state"
    assert main(["run", str(source), "--state-dir", str(state)]) == 1  # `fail` exits 1
    pods = sorted(p for p in (state / "gc" / "pods").iterdir() if p.name.startswith("gc-"))
    assert len(pods) == 2
    for pod in pods:
        assert [entry.name for entry in pod.iterdir()] == ["logs"], pod
    capsys.readouterr()
    assert main(["logs", "gc", "--node", "succeed", "--state-dir", str(state)]) == 0
    assert "done" in capsys.readouterr().out
