"""`argoexec run --pod-network auto|pod|host` (or ARGOEXEC_POD_NETWORK): under `pod` every pod of
the run has a network of its own while its executor still loads and saves artifacts in an S3
repository on this machine's loopback; the choice is kept in `run.json`, so a controller that
takes the run over runs its pods the same way; bad values are refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from argoexec.cli import main
from argoexec.config import ExecutorConfig
from argoexec.controller.loop.local import RUN_FILE, LocalRuns, RunConfig
from argoexec.controller.runtime.podnet import unavailable
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.controller.state import StateError
from tests.controller.test_cli_run_repository import _config_map
from tests.servers.backend import Backend
from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "workflows" / "hello-world.yaml"
INTERFACES = (
    'print(" ".join(sorted(l.split(":")[0].strip() for l in open("/proc/net/dev") if ":" in l)))'
)
PASSING = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: own-networks-}}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {{name: write, template: write}}
        - - name: read
            template: read
            arguments:
              artifacts: [{{name: words, from: "{{{{steps.write.outputs.artifacts.words}}}}"}}]
    - name: write
      script:
        image: python:3.12-alpine
        command: [python3]
        source: |
          open("/tmp/words.txt", "w").write("through s3")
          {INTERFACES}
      outputs:
        artifacts: [{{name: words, path: /tmp/words.txt}}]
    - name: read
      inputs:
        artifacts: [{{name: words, path: /tmp/words.txt}}]
      script:
        image: python:3.12-alpine
        command: [python3]
        source: |
          print(open("/tmp/words.txt").read())
          {INTERFACES}
"""


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, object]:
    state = tmp_path / "state"
    code = main(["run", str(HELLO), "--state-dir", str(state), "-o", "json", *flags])
    workflow = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(workflow["status"], indent=1)
    return json.loads((state / workflow["metadata"]["name"] / RUN_FILE).read_text())  # type: ignore[no-any-return]


def test_under_pod_every_pod_has_its_own_network_and_artifacts_pass_through_s3_on_loopback(
    tmp_path: Path, s3_moto: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    why = unavailable()
    require(not why, f"pod networks: {why}")
    secrets, repository = tmp_path / "secrets", tmp_path / "repositories.yaml"
    repository.write_text(yaml.safe_dump(_config_map(s3_moto, secrets)))
    document = tmp_path / "passing.yaml"
    document.write_text(PASSING)
    argv = ["run", str(document), "--state-dir", str(tmp_path / "state"), "-o", "json"]
    argv += ["--artifact-repository", str(repository), "--secrets-dir", str(secrets)]

    code = main([*argv, "--pod-network", "pod"])

    workflow = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(workflow["status"], indent=1)
    results = {
        n["displayName"]: n["outputs"]["result"]
        for n in workflow["status"]["nodes"].values()
        if n["type"] == "Pod"
    }
    # Each main saw only its own pod's interfaces; init and wait, on the host's network,
    # reached moto on 127.0.0.1.
    assert results == {"write": "eth0 lo", "read": "through s3\neth0 lo"}
    assert any(key.endswith("/words.tgz") for key in s3_moto.list_keys(""))
    # As Argo's assessNodeStatus: a node records its pod's address only once daemoned.
    assert not [n for n in workflow["status"]["nodes"].values() if "podIP" in n]


def test_the_pod_network_is_kept_in_run_json_and_the_option_wins_over_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    assert _run(tmp_path / "default", capsys)["pod_network"] == "auto"
    monkeypatch.setenv("ARGOEXEC_POD_NETWORK", "host")
    assert _run(tmp_path / "env", capsys)["pod_network"] == "host"
    assert _run(tmp_path / "flag", capsys, "--pod-network", "pod")["pod_network"] == "pod"


def test_a_controller_taking_a_run_over_runs_its_pods_on_the_kept_pod_network(
    tmp_path: Path,
) -> None:
    (tmp_path / "wf").mkdir()
    RunConfig(pod_network="pod").save(tmp_path / "wf")
    runs = LocalRuns(tmp_path)
    try:
        assert runs.backend("wf").settings.pod_network == "pod"
        assert RunConfig.load(tmp_path / "wf").options().pod_network == "pod"
    finally:
        runs.close()


def test_a_run_json_of_before_pod_networks_means_auto(tmp_path: Path) -> None:
    kept = json.loads(RunConfig().text())
    del kept["pod_network"]
    (tmp_path / RUN_FILE).write_text(json.dumps(kept))
    assert RunConfig.load(tmp_path).pod_network == "auto"


def test_a_run_json_with_an_unknown_pod_network_is_refused_naming_it(tmp_path: Path) -> None:
    RunConfig(pod_network="bridge").save(tmp_path)
    with pytest.raises(StateError, match=r"run.json: pod_network 'bridge' is none of"):
        RunConfig.load(tmp_path)


def test_an_unknown_pod_network_option_is_refused_naming_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(HELLO), "--state-dir", str(tmp_path), "--pod-network", "bridge"])

    assert code == 2
    err = capsys.readouterr().err
    assert "--pod-network" in err and "'auto', 'pod', 'host'" in err
    assert not any(tmp_path.iterdir())  # nothing was run


def test_an_unknown_pod_network_variable_keeps_the_default_with_a_warning() -> None:
    config = ExecutorConfig.from_environ({"ARGOEXEC_POD_NETWORK": "bridge"})
    assert config.run_limits.pod_network is None
    assert config.warnings == (
        "ignoring ARGOEXEC_POD_NETWORK='bridge': not valid (auto | pod | host); using the default",
    )
    assert ExecutorConfig.from_environ({"ARGOEXEC_POD_NETWORK": "pod"}).run_limits.pod_network == (
        "pod"
    )
