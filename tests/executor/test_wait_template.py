"""``wait`` reads a template without artifacts from its JSON, and any other through the model:
both views must read every field the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from argoexec.contract import LABEL_REPORT_OUTPUTS_COMPLETED
from argoexec.errors import ExecutorError
from argoexec.executor.wait_template import WaitTemplate, read_wait_template
from argoexec.models import Template
from argoexec.varrun import VarRun

PLAIN = [
    {"name": "t", "container": {"image": "busybox"}},
    {
        "script": {"source": "x", "volumeMounts": [{"name": "v", "mountPath": "/data"}]},
        "outputs": {
            "parameters": [
                {"name": "p", "valueFrom": {"path": "/data/p", "default": ""}},
                {"name": "given", "value": "v", "globalName": "g"},
            ]
        },
    },
    {
        "containerSet": {
            "containers": [{"name": "a"}, {}],
            "volumeMounts": [{"name": "w", "mountPath": "/work"}],
        }
    },
    {"container": {"volumeMounts": [{"name": "v", "mountPath": "/m"}, {"name": "x"}]}},
    {"data": {"source": {}}, "archiveLocation": {"archiveLogs": False}},
    {"http": {"url": "http://127.0.0.1"}},
    {"steps": [[{"name": "a", "template": "b"}]]},
]

NEEDS_MODEL = [
    {"container": {}, "outputs": {"artifacts": [{"name": "a", "path": "/a"}]}},
    {"container": {}, "inputs": {"artifacts": [{"name": "a", "path": "/a", "raw": {"data": "x"}}]}},
    {"container": {}, "archiveLocation": {"archiveLogs": True}},
    {"resource": {"action": "get", "manifest": "kind: X"}},
    # Not the shape the JSON view accepts as is: the model coerces the number.
    {"container": {}, "outputs": {"parameters": [{"name": "p", "valueFrom": {"default": 5}}]}},
    {"container": {}, "outputs": {"parameters": [{"name": "p", "value": True}]}},
    # Nulls, which the model leaves out of what is reported.
    {"container": {}, "outputs": {"parameters": [{"name": "p", "value": None}]}},
    {"container": {}, "outputs": {"result": None, "parameters": [{"name": "p"}]}},
]


def views(doc: dict[str, Any]) -> tuple[WaitTemplate, WaitTemplate]:
    return read_wait_template(json.dumps(doc)), WaitTemplate.of(Template.model_validate(doc))


def same_reading(a: WaitTemplate, b: WaitTemplate) -> None:
    assert a.main_containers() == b.main_containers()
    assert a.volume_mount_paths() == b.volume_mount_paths()
    assert a.can_have_output() == b.can_have_output()
    assert a.is_resource == b.is_resource
    assert a.declared_outputs() == b.declared_outputs()


@pytest.mark.parametrize("doc", PLAIN)
def test_a_template_without_artifacts_is_read_without_its_model_and_reads_the_same(
    doc: dict[str, Any],
) -> None:
    plain, model = views(doc)
    assert plain.model is None
    same_reading(plain, model)


@pytest.mark.parametrize("doc", NEEDS_MODEL)
def test_templates_with_artifacts_logs_a_resource_or_loose_types_go_through_the_model(
    doc: dict[str, Any],
) -> None:
    read, model = views(doc)
    assert read.model is not None
    same_reading(read, model)


def test_a_number_given_as_a_default_reads_as_the_string_argo_makes_of_it() -> None:
    read = read_wait_template(json.dumps(NEEDS_MODEL[4]))
    assert read.declared_outputs()["parameters"][0]["valueFrom"]["default"] == "5"


def test_the_declared_outputs_are_a_copy_the_caller_may_fill_in() -> None:
    read = read_wait_template(json.dumps(PLAIN[1]))
    read.declared_outputs()["parameters"][0]["value"] = "changed"
    assert "value" not in read.declared_outputs()["parameters"][0]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        json.dumps({"outputs": {"parameters": {"name": "p"}}}),
        json.dumps({"container": {}, "outputs": {"parameters": [{"name": ["p"]}]}}),
        json.dumps({"containerSet": {"containers": "main"}}),
    ],
)
def test_a_template_neither_view_accepts_is_refused_as_invalid(text: str) -> None:
    with pytest.raises(ExecutorError, match="invalid template"):
        read_wait_template(text)


def plain_wait_pod(tmp_path: Path) -> tuple[dict[str, Any], dict[str, str], Path]:
    """A pod whose main is done, with one output parameter; its template, ``wait``'s
    environment and its result file."""
    var_run, result = tmp_path / "vr", tmp_path / "result.json"
    template = {
        "name": "t",
        "container": {"image": "x"},
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
    }
    parameter = VarRun(var_run).output_parameter("/tmp/p")
    parameter.parent.mkdir(parents=True)
    parameter.write_text("42\n")
    VarRun(var_run).exitcode("main").parent.mkdir(parents=True)
    VarRun(var_run).stdout("main").write_text("hello\n")
    VarRun(var_run).exitcode("main").write_text("0")
    env = {
        "PATH": os.environ["PATH"],
        "ARGO_POD_NAME": "p",
        "ARGO_NODE_ID": "wf-1",
        "ARGO_TEMPLATE": json.dumps(template),
        "ARGO_INCLUDE_SCRIPT_OUTPUT": "true",
        "ARGOEXEC_VAR_RUN_DIR": str(var_run),
        "ARGOEXEC_RESULT_FILE": str(result),
        "ARGOEXEC_TERMINATION_LOG": str(tmp_path / "termination-log"),
    }
    return template, env, result


def test_a_pod_without_artifacts_is_waited_for_and_reported_without_the_models(
    tmp_path: Path,
) -> None:
    """Most pods save nothing: ``wait`` then stays off pydantic, the artifact layer, YAML and
    the HTTP client (reporting to the local runtime's result file), which were most of its
    start-up. Its report is the one the model path would make."""
    template, env, result = plain_wait_pod(tmp_path)
    heavy = ("pydantic", "argoexec.models", "artifacts.transfer", "artifacts.drivers", "yaml")
    probe = (
        "import sys; from argoexec.cli import main; code = main(['wait']); "
        f"loaded = sorted(m for m in sys.modules if m.startswith({heavy!r}) "
        "or m in ('http.client', 'ssl', 'boto3'));"
        "print(loaded); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    reported = json.loads(result.read_text())
    assert reported["metadata"]["labels"][LABEL_REPORT_OUTPUTS_COMPLETED] == "true"
    expected = {"result": "hello", "parameters": [template["outputs"]["parameters"][0]]}
    expected["parameters"][0] = expected["parameters"][0] | {"value": "42"}
    assert reported["outputs"] == expected


@pytest.mark.parametrize("go", [True, False])
def test_a_wait_started_ahead_does_its_work_only_once_let_go(tmp_path: Path, go: bool) -> None:
    """At its start gate ``wait`` has read nothing of the pod: EOF there (init failed) ends it
    with nothing written; "go" lets it run as if it had just started."""
    _, env, result = plain_wait_pod(tmp_path)
    read, write = os.pipe()
    wait = subprocess.Popen(
        [sys.executable, "-m", "argoexec", "wait"],
        env=env | {"ARGOEXEC_START_GATE": str(read)},
        pass_fds=(read,),
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(read)
    try:
        if go:
            os.write(write, b"1")
    finally:
        os.close(write)
    _, err = wait.communicate(timeout=60)
    if go:
        assert wait.returncode == 0, err
        assert json.loads(result.read_text())["outputs"]["result"] == "hello"
    else:
        assert wait.returncode == 143, err
        assert not result.exists()
        assert err == ""
