"""The WorkflowTaskResult sink (argo-contract.md §4.6) against the fake API server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from argoexec.kube.client import KubeClient, KubeClientConfig
from argoexec.kube.taskresults import KubeResultSink, TaskResultError
from argoexec.retry import Backoff
from tests.servers.kube import FakeKube

COMPLETED_LABEL = "workflows.argoproj.io/report-outputs-completed"

NS, NODE, WF, WF_UID = "argo", "my-wf-1234567", "my-wf", "6f1c-uid"
RESULTS = "/apis/argoproj.io/v1alpha1/namespaces/argo/workflowtaskresults"
FAST = Backoff(steps=0, duration=0.01, factor=2.0, jitter=0.2, cap=0.05)


def make_sink(fake: FakeKube, **kwargs: Any) -> KubeResultSink:
    client = KubeClient(KubeClientConfig(server=fake.url, token=fake.token, timeout=5))
    options: dict[str, Any] = {"timeout": 10.0, "backoff": FAST} | kwargs
    return KubeResultSink(
        client, name=NODE, namespace=NS, workflow_name=WF, workflow_uid=WF_UID, **options
    )


def outputs_result() -> dict[str, Any]:
    return {
        "outputs": {
            "parameters": [{"name": "p", "value": "v", "valueFrom": {"path": "/tmp/p"}}],
            "artifacts": [{"name": "a", "path": "/tmp/a", "s3": {"key": "my-wf/a.tgz"}}],
            "result": "hello",
        }
    }


def stored(fake: FakeKube) -> dict[str, Any]:
    obj = fake.get("workflowtaskresults", NODE, NS, group="argoproj.io")
    assert obj is not None
    return dict(obj)


def calls(fake: FakeKube) -> list[tuple[str, int]]:
    return [(r.method, r.status) for r in fake.requests(path="workflowtaskresults")]


def test_initialize_creates_the_result_exactly_as_argo_does(kube_api: FakeKube) -> None:
    make_sink(kube_api, instance_id="ctrl-1").initialize()
    (post,) = kube_api.requests("POST")
    assert post.path == RESULTS
    assert post.body == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTaskResult",
        "metadata": {
            "name": NODE,
            "labels": {
                "workflows.argoproj.io/workflow": WF,
                "workflows.argoproj.io/report-outputs-completed": "false",
                "workflows.argoproj.io/controller-instanceid": "ctrl-1",
            },
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "name": WF,
                    "uid": WF_UID,
                }
            ],
        },
    }
    assert stored(kube_api)["metadata"]["labels"][COMPLETED_LABEL] == "false"


def test_without_an_instance_id_the_label_is_absent(kube_api: FakeKube) -> None:
    make_sink(kube_api).initialize()
    labels = stored(kube_api)["metadata"]["labels"]
    assert "workflows.argoproj.io/controller-instanceid" not in labels
    selector = "workflows.argoproj.io/workflow,!workflows.argoproj.io/controller-instanceid"
    assert (
        len(
            kube_api.store.list(kube_api.kind("workflowtaskresults", "argoproj.io"), NS, selector)[
                "items"
            ]
        )
        == 1
    )


def test_reports_are_merge_patches_and_finalize_sets_the_label(kube_api: FakeKube) -> None:
    sink = make_sink(kube_api)
    sink.initialize()
    sink.report(outputs_result())
    sink.report({"progress": "3/10"})
    sink.finalize()
    patches = kube_api.requests("PATCH")
    assert [p.content_type for p in patches] == ["application/merge-patch+json"] * 3
    assert [p.path for p in patches] == [f"{RESULTS}/{NODE}"] * 3
    assert patches[0].body == outputs_result()
    assert patches[1].body == {"progress": "3/10"}
    assert patches[2].body == {"metadata": {"labels": {COMPLETED_LABEL: "true"}}}
    obj = stored(kube_api)
    assert obj["outputs"]["result"] == "hello" and obj["progress"] == "3/10"
    assert obj["outputs"]["parameters"][0]["valueFrom"] == {"path": "/tmp/p"}
    assert obj["metadata"]["labels"][COMPLETED_LABEL] == "true"
    assert "phase" not in obj and "exitCode" not in obj["outputs"]


def test_a_first_report_creates_with_the_outputs(kube_api: FakeKube) -> None:
    make_sink(kube_api).report(outputs_result())
    assert calls(kube_api) == [("POST", 201)]
    assert kube_api.requests("POST")[0].body["outputs"]["result"] == "hello"


def test_an_existing_result_falls_back_from_create_to_a_merge_patch(kube_api: FakeKube) -> None:
    make_sink(kube_api).initialize()
    kube_api.journal.clear()
    again = make_sink(kube_api)  # e.g. a restarted wait container
    again.initialize()
    again.report(outputs_result())
    assert calls(kube_api) == [("POST", 409), ("PATCH", 200)]
    assert stored(kube_api)["outputs"]["result"] == "hello"


def test_a_report_recreates_a_result_that_disappeared(kube_api: FakeKube) -> None:
    sink = make_sink(kube_api)
    sink.initialize()
    kube_api.store.delete(kube_api.kind("workflowtaskresults", "argoproj.io"), NS, NODE, {})
    sink.report({"progress": "1/2"})
    assert calls(kube_api)[1:] == [("PATCH", 404), ("POST", 201)]
    assert stored(kube_api)["progress"] == "1/2"


def test_finalize_of_a_missing_result_creates_it_complete(kube_api: FakeKube) -> None:
    sink = make_sink(kube_api)
    sink.report(outputs_result())
    kube_api.store.delete(kube_api.kind("workflowtaskresults", "argoproj.io"), NS, NODE, {})
    sink.finalize()
    obj = stored(kube_api)
    assert obj["metadata"]["labels"][COMPLETED_LABEL] == "true"
    assert obj["outputs"]["result"] == "hello"


@pytest.mark.parametrize("status", [429, 503, 504])
def test_transient_api_errors_are_retried_without_double_creating(
    kube_api: FakeKube, status: int
) -> None:
    kube_api.fault("POST", "workflowtaskresults", status, times=2)
    kube_api.fault("PATCH", "workflowtaskresults", status, times=2)
    sink = make_sink(kube_api)
    sink.initialize()
    sink.finalize()
    assert calls(kube_api) == [
        ("POST", status),
        ("POST", status),
        ("POST", 201),
        ("PATCH", status),
        ("PATCH", status),
        ("PATCH", 200),
    ]
    assert len(kube_api.objects("workflowtaskresults", "argoproj.io")) == 1


def test_a_connection_dropped_before_the_create_is_retried(kube_api: FakeKube) -> None:
    kube_api.fault("POST", "workflowtaskresults", drop=True)
    make_sink(kube_api).report(outputs_result())
    assert calls(kube_api) == [("POST", 0), ("POST", 201)]


def test_a_lost_create_answer_never_makes_a_second_result(kube_api: FakeKube) -> None:
    kube_api.fault("POST", "workflowtaskresults", drop="after")
    sink = make_sink(kube_api)
    sink.report(outputs_result())
    sink.finalize()
    assert calls(kube_api) == [("POST", 0), ("POST", 409), ("PATCH", 200), ("PATCH", 200)]
    (obj,) = kube_api.objects("workflowtaskresults", "argoproj.io")
    assert obj["outputs"]["result"] == "hello"
    assert obj["metadata"]["labels"][COMPLETED_LABEL] == "true"


def test_reinitializing_and_rereporting_are_idempotent(kube_api: FakeKube) -> None:
    sink = make_sink(kube_api)
    for _ in range(2):
        sink.initialize()
        sink.report(outputs_result())
    make_sink(kube_api).initialize()
    (obj,) = kube_api.objects("workflowtaskresults", "argoproj.io")
    assert obj["outputs"]["result"] == "hello"


def test_a_non_transient_error_is_not_retried(kube_api: FakeKube) -> None:
    sink = make_sink(kube_api)
    sink.initialize()
    kube_api.fault("PATCH", "workflowtaskresults", 409)
    with pytest.raises(TaskResultError, match="Conflict") as info:
        sink.report(outputs_result())
    assert calls(kube_api)[1:] == [("PATCH", 409)]
    assert info.value.cause is not None


def test_forbidden_points_at_the_rbac_needed(kube_api: FakeKube) -> None:
    kube_api.deny("create", "workflowtaskresults", group="argoproj.io")
    with pytest.raises(TaskResultError) as info:
        make_sink(kube_api).initialize()
    message = str(info.value)
    assert "Forbidden" in message and "cannot create resource" in message
    assert "'create' and 'patch'" in message and "'workflowtaskresults'" in message
    assert "workflow-rbac" in message
    assert calls(kube_api) == [("POST", 403)], "Forbidden is not retried"


def test_a_missing_crd_is_reported_with_the_same_pointer(kube_api: FakeKube) -> None:
    kube_api.store.unregister("argoproj.io", "workflowtaskresults")
    with pytest.raises(TaskResultError, match="CRD must be installed"):
        make_sink(kube_api).report(outputs_result())


def test_an_exceeded_quota_is_retried(kube_api: FakeKube) -> None:
    kube_api.fault(
        "POST", "workflowtaskresults", 403, reason="Forbidden", message="exceeded quota: q"
    )
    make_sink(kube_api).initialize()
    assert calls(kube_api) == [("POST", 403), ("POST", 201)]


def test_a_sink_stopped_before_finalize_leaves_the_result_incomplete(kube_api: FakeKube) -> None:
    sink = make_sink(kube_api)
    sink.initialize()
    sink.report(outputs_result())
    sink.stop.set("wait container killed")
    with pytest.raises(TaskResultError, match=r"stopped \(wait container killed\)"):
        sink.finalize()
    assert stored(kube_api)["metadata"]["labels"][COMPLETED_LABEL] == "false"
    assert [r.body for r in kube_api.requests("PATCH")] == [outputs_result()]


def test_the_sinks_own_timeout_bounds_a_failing_api(kube_api: FakeKube) -> None:
    kube_api.fault("*", "workflowtaskresults", 503, times=10_000)
    with pytest.raises(TaskResultError, match=r"gave up at its 0\.3s timeout") as info:
        make_sink(kube_api, timeout=0.3).initialize()
    assert "ServiceUnavailable" in str(info.value)
    attempts = len(calls(kube_api))
    assert attempts > 1
    assert all(status == 503 for _, status in calls(kube_api))


def test_the_sinks_own_timeout_bounds_a_hung_api_server() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = KubeClient(KubeClientConfig(server=url, token="t-0123456789"))
        sink = KubeResultSink(
            client,
            name=NODE,
            namespace=NS,
            workflow_name=WF,
            workflow_uid=WF_UID,
            timeout=0.5,
            backoff=FAST,
        )
        with pytest.raises(TaskResultError, match="gave up") as info:
            sink.initialize()
    assert "timed out" in str(info.value)


def test_the_rss_of_a_reporting_wait_process_is_measured(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import json, re
        from argoexec.kube.client import KubeClient, KubeClientConfig
        from argoexec.kube.taskresults import KubeResultSink

        client = KubeClient(KubeClientConfig(server={kube_api.url!r}, token={kube_api.token!r}))
        sink = KubeResultSink(client, name="rss", namespace="argo", workflow_name="wf",
                              workflow_uid="u")
        sink.initialize()
        sink.report({{"outputs": {{"result": "x" * 1000}}}})
        sink.finalize()
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's (pytest's) peak over exec.
        status = open("/proc/self/status").read()
        print(json.dumps({{"hwm_kib": int(re.search(r"VmHWM:\\s+(\\d+)", status)[1])}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    rss_mib = json.loads(done.stdout)["hwm_kib"] / 1024
    print(f"peak RSS of a wait-like process reporting a task result: {rss_mib:.1f} MiB")
    obj = kube_api.get("workflowtaskresults", "rss", "argo", group="argoproj.io")
    assert obj["metadata"]["labels"][COMPLETED_LABEL] == "true"
