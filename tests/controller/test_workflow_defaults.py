"""The controller configuration's `workflowDefaults`, merged under each workflow as Argo's
`MergeTo` does (a strategic merge patch typed by the Workflow: the workflow wins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.workflow.defaults import DefaultsError, check_defaults, with_defaults
from tests.controller.test_cli_state_dir import run_cli

DEFAULTS: dict[str, Any] = {
    "metadata": {"labels": {"team": "data", "tier": "batch"}, "annotations": {"a": "1"}},
    "spec": {
        "serviceAccountName": "defaults-sa",
        "activeDeadlineSeconds": 600,
        "ttlStrategy": {"secondsAfterSuccess": 60},
        "podGC": {"strategy": "OnPodSuccess"},
        "arguments": {"parameters": [{"name": "who", "value": "defaults"}, {"name": "extra"}]},
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "templates": [
            {"name": "main", "activeDeadlineSeconds": 30, "container": {"image": "default"}},
            {"name": "bye", "container": {"image": "alpine", "command": ["echo", "bye"]}},
        ],
        "nodeSelector": {"disk": "ssd"},
    },
}


def workflow(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "wf", "labels": {"tier": "own"}},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "alpine", "command": ["true"]}}],
            **spec,
        },
    }


def test_what_the_workflow_leaves_out_comes_from_the_defaults() -> None:
    merged = with_defaults(workflow(), DEFAULTS)
    spec = merged["spec"]
    assert merged["metadata"]["labels"] == {"team": "data", "tier": "own"}
    assert merged["metadata"]["annotations"] == {"a": "1"}
    assert (spec["serviceAccountName"], spec["activeDeadlineSeconds"]) == ("defaults-sa", 600)
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 60}
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def test_templates_and_parameters_merge_item_by_item_on_their_names() -> None:
    own = workflow(arguments={"parameters": [{"name": "who", "value": "me"}, {"name": "new"}]})
    spec = with_defaults(own, DEFAULTS)["spec"]
    # Kubernetes' order: the patch's items first, the items only the defaults have after.
    assert spec["arguments"]["parameters"] == [
        {"name": "who", "value": "me"},
        {"name": "new"},
        {"name": "extra"},
    ]
    templates = {t["name"]: t for t in spec["templates"]}
    assert set(templates) == {"main", "bye"}  # the defaults' template added
    # The same template: the workflow's fields win, the defaults' others stay (Argo's merge).
    assert templates["main"]["container"] == {"image": "alpine", "command": ["true"]}
    assert templates["main"]["activeDeadlineSeconds"] == 30


def test_the_workflows_own_values_win_and_other_lists_are_replaced_whole() -> None:
    own = workflow(
        serviceAccountName="own",
        ttlStrategy={"secondsAfterFailure": 5},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        hooks={"exit": {"template": "bye"}},
    )
    defaults = {"spec": {**DEFAULTS["spec"], "tolerations": [{"key": "x", "operator": "Exists"}]}}
    spec = with_defaults(own, defaults)["spec"]
    assert spec["serviceAccountName"] == "own"
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 60, "secondsAfterFailure": 5}
    assert [t["key"] for t in spec["tolerations"]] == ["gpu", "x"]  # merged on `key`
    assert spec["hooks"] == {"exit": {"template": "bye"}}


def test_nulls_and_directives_in_the_workflow_do_not_remove_defaults() -> None:
    """Argo decodes the workflow into its Go types first: a null is absent, and a `$patch`
    is an unknown field, dropped."""
    own = workflow(ttlStrategy=None, podGC={"$patch": "delete"})
    spec = with_defaults(own, DEFAULTS)["spec"]
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 60}
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}


def test_no_defaults_leave_the_workflow_as_it_is() -> None:
    assert with_defaults(workflow(), {}) == workflow()
    assert with_defaults(workflow(), None) == workflow()


def test_a_list_item_without_its_merge_key_is_argos_error() -> None:
    own = workflow(volumes=[{"emptyDir": {}}])
    with pytest.raises(DefaultsError, match="Failed to apply default workflow values"):
        with_defaults(own, DEFAULTS)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("text", "cfg: expected a Workflow"),
        ({"spec": ["a"]}, r"cfg\.spec: expected a mapping"),
    ],
)
def test_defaults_that_are_not_a_workflow_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(DefaultsError, match=message):
        check_defaults(raw, "cfg")


RUN = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: greet}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [echo, "hello {{workflow.parameters.who}}"]}
"""

CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata: {name: workflow-controller-configmap}
data:
  workflowDefaults: |
    metadata:
      labels: {team: data}
    spec:
      arguments:
        parameters: [{name: who, value: defaults}]
      ttlStrategy: {secondsAfterCompletion: 3600}
"""


def test_run_merges_the_controller_configs_workflow_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(RUN)
    (tmp_path / "cm.yaml").write_text(CONFIG)
    state = tmp_path / "state"
    code, _, err = run_cli(
        capsys, "run", str(tmp_path / "wf.yaml"), "--controller-config", str(tmp_path / "cm.yaml"),
        "--state-dir", str(state), "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    stored = json.loads((state / "greet" / "workflow.json").read_text())
    assert stored["metadata"]["labels"]["team"] == "data"
    assert stored["spec"]["ttlStrategy"] == {"secondsAfterCompletion": 3600}
    code, logs, _ = run_cli(capsys, "logs", "greet", "--state-dir", str(state))
    assert "hello defaults" in logs


def test_run_refuses_defaults_that_are_not_a_workflow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(RUN)
    (tmp_path / "cm.yaml").write_text("workflowDefaults: [1, 2]\n")
    code, _, err = run_cli(
        capsys, "run", str(tmp_path / "wf.yaml"), "--controller-config", str(tmp_path / "cm.yaml"),
        "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    assert code != 0
    assert "cm.yaml: workflowDefaults: expected a Workflow" in err
    assert not (tmp_path / "state" / "greet").exists()
