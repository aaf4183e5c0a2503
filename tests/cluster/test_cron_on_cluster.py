"""CronWorkflows and ttlStrategy on the cluster: the leading controller creates a CronWorkflow's
runs through the API (owned by the cron), keeps its status, deletes runs past the history
limit, stops it by its stopStrategy; a finished Workflow whose TTL is over is deleted. Every
call it made is allowed by the manifests' RBAC rules."""

from __future__ import annotations

import time
from typing import Any

from argoexec.contract import LABEL_CRON_WORKFLOW, LABEL_CRON_WORKFLOW_COMPLETED
from argoexec.controller.cluster.crons import status_patch
from argoexec.durations import epoch_seconds
from tests.cluster.harness import CONTROLLER_USER, Cluster
from tests.cluster.rbac import Authorizer, violations
from tests.servers.procs import wait_until

WF = "argoproj.io"
CRON = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "CronWorkflow",
    "metadata": {"name": "often", "namespace": "default"},
    "spec": {
        "schedules": ["@every 1s"],
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 1,
        "stopStrategy": {"expression": "cronworkflow.succeeded >= 2"},
        "workflowSpec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "container": {"image": "busybox", "command": ["echo", "hi"]}}
            ],
        },
    },
}


def _cron(cluster: Cluster) -> dict[str, Any]:
    found = cluster.fake.get("cronworkflows", "often", "default", group=WF)
    assert found is not None
    return found


def test_a_cron_workflow_runs_until_its_stop_strategy_and_keeps_its_history_limit(
    cluster: Cluster, objects: list[dict[str, Any]]
) -> None:
    cluster.fake.seed(CRON)
    cluster.start_controller()
    wait_until(
        lambda: (_cron(cluster).get("status") or {}).get("phase") == "Stopped",
        90,
        "the CronWorkflow stopped by its stopStrategy",
    )
    cron = _cron(cluster)
    assert cron["status"]["succeeded"] == 2
    assert cron["status"]["active"] == []
    assert cron["metadata"]["labels"][LABEL_CRON_WORKFLOW_COMPLETED] == "true"
    wait_until(
        lambda: len(cluster.fake.objects("workflows", WF, "default")) == 1,
        30,
        "the older run deleted by the history limit",
    )
    (kept,) = cluster.fake.objects("workflows", WF, "default")
    assert kept["status"]["phase"] == "Succeeded"
    assert kept["metadata"]["labels"][LABEL_CRON_WORKFLOW] == "often"
    owner = kept["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CronWorkflow",
        "often",
        cron["metadata"]["uid"],
    )
    last = epoch_seconds(cron["status"]["lastScheduledTime"])
    assert kept["metadata"]["name"] == f"often-{int(last or 0)}"  # the last slot's run
    count = len(cluster.fake.requests("POST", r"/workflows$"))
    time.sleep(2.5)  # Stopped: nothing more is created
    assert len(cluster.fake.requests("POST", r"/workflows$")) == count
    journal = cluster.fake.requests()
    assert violations(journal, Authorizer.from_objects(objects), CONTROLLER_USER) == []


def test_a_finished_workflow_is_deleted_once_its_ttl_is_over(cluster: Cluster) -> None:
    cluster.start_controller()
    workflow = {
        "metadata": {"name": "brief"},
        "spec": {
            "entrypoint": "main",
            "ttlStrategy": {"secondsAfterSuccess": 1, "secondsAfterFailure": 3600},
            "templates": [{"name": "main", "container": {"image": "busybox", "command": ["true"]}}],
        },
    }
    cluster.submit(workflow)
    assert cluster.wait_finished("brief")["status"]["phase"] == "Succeeded"
    wait_until(
        lambda: cluster.fake.get("workflows", "brief", "default", group=WF) is None,
        30,
        "the workflow deleted by its ttlStrategy",
    )


def test_the_status_patch_names_what_went_as_null() -> None:
    old = {
        "metadata": {"labels": {"a": "1"}},
        "status": {"active": [{"name": "x"}], "conditions": [{"type": "SpecError"}]},
    }
    new = {"metadata": {"labels": {"b": "2"}}, "status": {"active": [], "phase": "Active"}}
    assert status_patch(old, new) == {
        "status": {"active": [], "conditions": None, "phase": "Active"},
        "metadata": {"labels": {"a": None, "b": "2"}},
    }
    assert status_patch(new, new) == {}
