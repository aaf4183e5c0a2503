"""``wait``'s post-main flow over a pod laid out in a temporary directory, with real S3 (moto)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from argoexec.contract import RESULT_MAX_BYTES
from argoexec.errors import ExecutorError
from argoexec.executor.sinks import FileSink, is_completed
from argoexec.executor.wait import supplied_inputs
from argoexec.executor.wait_template import read_wait_template
from argoexec.lifecycle import Stop
from argoexec.models import Template
from tests.executor.test_wait_support import FakePod, archive_location, run, untar
from tests.servers.backend import Backend


@pytest.fixture
def pod(tmp_path: Path) -> FakePod:
    return FakePod(tmp_path / "pod")


def script_template(pod: FakePod, backend: Backend | None = None, **outputs: Any) -> dict[str, Any]:
    template: dict[str, Any] = {
        "name": "step",
        "script": {"image": "python:3", "source": "print(1)"},
        "outputs": outputs,
    }
    if backend is not None:
        template["archiveLocation"] = archive_location(backend)
    return template


def test_outputs_are_saved_reported_and_the_result_completed(
    pod: FakePod, s3_moto: Backend
) -> None:
    out = f"{pod.work}/out.txt"
    template = script_template(
        pod,
        s3_moto,
        parameters=[
            {"name": "answer", "valueFrom": {"path": f"{pod.work}/answer"}},
            {"name": "given", "value": "as declared"},
        ],
        artifacts=[{"name": "report", "path": out}],
    )
    pod.main_exits(
        template, {out: b"report body", f"{pod.work}/answer": b"42\n"}, stdout=b"hello\n"
    )

    outcome = run(pod, template, s3_moto)

    assert outcome.errors == []
    doc = pod.result()
    assert is_completed(doc)
    assert doc["metadata"]["name"] == "wf-node-1"
    outputs = doc["outputs"]
    assert outputs["result"] == "hello"
    assert outputs["parameters"][0]["value"] == "42"
    assert outputs["parameters"][1] == {"name": "given", "value": "as declared"}
    # Reported key-only (§11.4): no bucket, endpoint or credentials.
    assert outputs["artifacts"] == [
        {"name": "report", "path": out, "s3": {"key": "wf/pod/report.tgz"}}
    ]
    stored = s3_moto.get_object("wf/pod/report.tgz")
    assert untar(stored) == {"out.txt": b"report body"}
    # The emissary's tarball is stored as it is: no re-packing for the default strategy.
    assert stored == pod.varrun.output_artifact(out).read_bytes()
    saved = outcome.saved[0]
    assert saved.size == len(stored)
    assert len(saved.sha256) == 64


def test_a_result_over_the_limit_keeps_its_tail_and_says_so(
    pod: FakePod, caplog: pytest.LogCaptureFixture
) -> None:
    template = script_template(pod)
    big = b"a" * 1000 + b"b" * RESULT_MAX_BYTES
    pod.main_exits(template, stdout=big + b"\n")

    with caplog.at_level(logging.WARNING, logger="argoexec.wait"):
        outcome = run(pod, template)

    assert outcome.errors == []
    doc = pod.result()
    assert doc["outputs"]["result"] == "b" * RESULT_MAX_BYTES
    assert str(len(big)) in doc["message"]
    assert "truncated" in doc["message"]
    warned = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert warned and getattr(warned[0], "original_bytes", None) == len(big)


def test_the_result_is_not_captured_unless_asked_for(pod: FakePod) -> None:
    template = script_template(pod)
    pod.main_exits(template, stdout=b"hello")
    run(pod, template, include_script_output=False)
    assert "result" not in pod.result().get("outputs", {})


def test_a_missing_parameter_takes_its_default(pod: FakePod) -> None:
    template = script_template(
        pod,
        parameters=[
            {"name": "p", "valueFrom": {"path": f"{pod.work}/nope", "default": "fallback"}},
            {"name": "empty", "valueFrom": {"path": f"{pod.work}/nope2", "default": ""}},
        ],
    )
    pod.main_exits(template)
    outcome = run(pod, template)
    assert outcome.errors == []
    params = pod.result()["outputs"]["parameters"]
    assert [p["value"] for p in params] == ["fallback", ""]


def test_a_missing_parameter_without_default_fails_but_outputs_are_still_reported(
    pod: FakePod, s3_moto: Backend
) -> None:
    out = f"{pod.work}/out.txt"
    template = script_template(
        pod,
        s3_moto,
        parameters=[{"name": "p", "valueFrom": {"path": f"{pod.work}/nope"}}],
        artifacts=[{"name": "a", "path": out}],
    )
    pod.main_exits(template, {out: b"x"})
    outcome = run(pod, template, s3_moto)
    assert len(outcome.errors) == 1
    assert "'p'" in outcome.errors[0] and "no such file" in outcome.errors[0]
    doc = pod.result()
    assert doc["outputs"]["artifacts"][0]["s3"] == {"key": "wf/pod/a.tgz"}
    assert "value" not in doc["outputs"]["parameters"][0]
    assert is_completed(doc)


def test_a_parameter_in_a_volume_is_read_through_the_mirror(pod: FakePod) -> None:
    template = script_template(
        pod, parameters=[{"name": "v", "valueFrom": {"path": "/data/v.txt"}}]
    )
    template["script"]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    pod.mirror("/data/v.txt").parent.mkdir(parents=True)
    pod.mirror("/data/v.txt").write_text("from the volume\n")
    pod.main_exits(template)
    run(pod, template)
    assert pod.result()["outputs"]["parameters"][0]["value"] == "from the volume"


def test_every_artifact_is_attempted_and_all_errors_are_kept(
    pod: FakePod, s3_moto: Backend
) -> None:
    template = script_template(
        pod,
        s3_moto,
        artifacts=[
            {"name": "gone", "path": f"{pod.work}/gone"},
            {"name": "maybe", "path": f"{pod.work}/maybe", "optional": True},
            {"name": "also-gone", "path": f"{pod.work}/also-gone"},
            {"name": "here", "path": f"{pod.work}/here"},
        ],
    )
    pod.main_exits(template, {f"{pod.work}/here": b"present"})
    outcome = run(pod, template, s3_moto)

    assert len(outcome.errors) == 2
    assert "'gone'" in outcome.errors[0] and "no such file or directory" in outcome.errors[0]
    assert "'also-gone'" in outcome.errors[1]
    reported = pod.result()["outputs"]["artifacts"]
    assert [a["name"] for a in reported] == ["here"]  # the optional one is not reported
    assert untar(s3_moto.get_object("wf/pod/here.tgz")) == {"here": b"present"}


def test_a_failed_report_never_claims_completion(pod: FakePod) -> None:
    class BrokenReport(FileSink):
        def report(self, result: dict[str, Any]) -> None:
            raise OSError("the API server went away")

    template = script_template(pod)
    pod.main_exits(template, stdout=b"x")
    outcome = run(pod, template, sink=BrokenReport(pod.result_file, name="n"))
    assert not outcome.completed
    assert any("the API server went away" in e for e in outcome.errors)
    assert not is_completed(pod.result())  # initialized, never finalized


def test_sigterm_ends_the_waiting_but_outputs_are_still_saved(
    pod: FakePod, s3_moto: Backend
) -> None:
    out = f"{pod.work}/out.txt"
    template = script_template(pod, s3_moto, artifacts=[{"name": "a", "path": out}])
    pod.main_exits(template, {out: b"saved anyway"}, stdout=b"r")
    pod.varrun.exitcode("main").unlink()  # main never finishes
    waiting = Stop()
    waiting.set("SIGTERM")

    outcome = run(pod, template, s3_moto, waiting=waiting)

    assert outcome.errors == []
    assert outcome.completed
    assert untar(s3_moto.get_object("wf/pod/a.tgz")) == {"out.txt": b"saved anyway"}


def test_logs_are_archived_per_main_container(pod: FakePod, s3_moto: Backend) -> None:
    template = {
        "name": "set",
        "containerSet": {"containers": [{"name": "main"}, {"name": "second"}]},
        "archiveLocation": archive_location(s3_moto, archiveLogs=True),
    }
    pod.main_exits(
        template, stdout=b"out", combined=b"out and err\n", containers=("main", "second")
    )
    outcome = run(pod, template, s3_moto)

    assert outcome.errors == []
    assert s3_moto.get_object("wf/pod/main.log") == b"out and err\n"
    assert s3_moto.get_object("wf/pod/second.log") == b"out and err\n"
    reported = pod.result()["outputs"]["artifacts"]
    assert reported == [
        {"name": "main-logs", "s3": {"key": "wf/pod/main.log"}},
        {"name": "second-logs", "s3": {"key": "wf/pod/second.log"}},
    ]


def test_archiving_logs_without_storage_is_an_error(pod: FakePod) -> None:
    template = {"name": "t", "container": {}, "archiveLocation": {"archiveLogs": True}}
    pod.main_exits(template, combined=b"log")
    outcome = run(pod, template)
    assert len(outcome.errors) == 1
    assert "artifact storage is not configured" in outcome.errors[0]


def test_a_missing_combined_log_is_skipped(pod: FakePod, s3_moto: Backend) -> None:
    template = {
        "name": "t",
        "container": {},
        "archiveLocation": archive_location(s3_moto, archiveLogs=True),
    }
    pod.main_exits(template)
    pod.varrun.combined("main").unlink()
    outcome = run(pod, template, s3_moto)
    assert outcome.errors == []
    assert "artifacts" not in pod.result()["outputs"]


def test_a_resource_template_reports_only_its_logs(pod: FakePod, s3_moto: Backend) -> None:
    template = {
        "name": "r",
        "resource": {"action": "create", "manifest": "kind: ConfigMap"},
        "outputs": {"parameters": [{"name": "n", "valueFrom": {"jsonPath": "{.metadata.name}"}}]},
        "archiveLocation": archive_location(s3_moto, archiveLogs=True),
    }
    pod.main_exits(template, stdout=b"ignored", combined=b"kubectl said\n")
    outcome = run(pod, template, s3_moto)
    assert outcome.errors == []
    assert pod.result()["outputs"] == {
        "artifacts": [{"name": "main-logs", "s3": {"key": "wf/pod/main.log"}}]
    }


def test_a_failed_pre_main_phase_saves_no_outputs(pod: FakePod) -> None:
    template = script_template(pod, artifacts=[{"name": "req", "path": f"{pod.work}/out1"}])
    pod.main_exits(template, stdout=b"x")
    outcome = run(pod, template, pre_main_failed=True)
    assert outcome.errors == []
    assert "result" not in pod.result()["outputs"]


def test_the_final_report_carries_the_latest_progress(pod: FakePod) -> None:
    template = script_template(pod)
    pod.main_exits(template)
    pod.varrun.progress.write_text("10/100\n7/10\n\n")
    run(pod, template, progress_file_tick=0.05, progress_patch_tick=0.05)
    assert pod.result()["progress"] == "7/10"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ({"container": {}}, True),
        ({"script": {"source": "x"}}, True),
        ({"data": {}}, True),
        ({"resource": {"action": "get"}}, False),
        ({"containerSet": {"containers": [{"name": "main"}]}}, True),
        ({"containerSet": {"containers": [{"name": "a"}]}}, False),
        ({"steps": []}, False),
    ],
)
def test_only_some_template_kinds_have_a_result(template: dict[str, Any], expected: bool) -> None:
    assert read_wait_template(json.dumps(template)).can_have_output() is expected


def test_an_optional_input_that_was_not_supplied_does_not_redirect_outputs() -> None:
    template = Template.model_validate(
        {
            "inputs": {
                "artifacts": [
                    {"name": "given", "path": "/in", "raw": {"data": "x"}},
                    {"name": "absent", "path": "/opt", "optional": True},
                    {"name": "keyed", "path": "/k", "optional": True, "s3": {"key": "k"}},
                ]
            }
        }
    )
    assert supplied_inputs(template) == ["/in", "/k"]


@pytest.mark.parametrize(("code", "errors"), [(0, 1), (64, 0)])
def test_a_missing_stdout_is_an_error_only_when_main_succeeded(
    pod: FakePod, code: int, errors: int
) -> None:
    template = script_template(pod)
    pod.main_exits(template, code=code)
    pod.varrun.stdout("main").unlink()
    outcome = run(pod, template)
    assert len(outcome.errors) == errors
    assert "result" not in pod.result()["outputs"]


def test_an_invalid_deadline_fails_before_the_result_is_created(pod: FakePod) -> None:
    template = script_template(pod)
    with pytest.raises(ExecutorError, match="ARGO_DEADLINE"):
        run(pod, template, deadline="next tuesday")
    assert not pod.result_file.exists()


def test_artifact_plugin_sidecars_are_stopped_after_reporting(pod: FakePod) -> None:
    template = script_template(pod)
    pod.main_exits(template)
    sidecar = "artifact-plugin-my-plugin"
    pod.varrun.ctr(sidecar).mkdir(parents=True)

    def sidecar_obeys() -> None:
        while not pod.varrun.signal(sidecar).exists():
            Stop().wait(0.02)
        pod.varrun.exitcode(sidecar).write_text("143")

    thread = threading.Thread(target=sidecar_obeys, daemon=True)
    thread.start()
    outcome = run(pod, template, artifact_plugin_sidecars=(sidecar,))
    thread.join(30)
    assert outcome.errors == []
    assert outcome.completed
    assert pod.varrun.exitcode(sidecar).read_text() == "143"
