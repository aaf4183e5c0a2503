"""The example workflows on a cluster: each EXPECTED.yaml entry, created on the (fake) API
server and run by `argoexec controller` with the node agent as kubelet, ends with the same
phase, node tree and outputs as `argoexec run` gives locally (tests/controller/test_examples).

What `argoexec run` takes as flags comes from the cluster here: `-p` values in the Workflow's
arguments, `--templates` documents (WorkflowTemplates, ConfigMaps) and `--secrets-dir` files
(Secrets) created in its namespace; artifacts go to an S3 repository (moto) named by the
controller's ConfigMap, its credentials in a Secret, as on a real cluster.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.controller.loop.runner import override_parameters
from argoexec.controller.render import pod_name_of
from argoexec.controller.workflow.cron import workflow_from_cron
from tests.cluster.harness import Cluster
from tests.controller.test_examples import (
    EXAMPLES,
    EXPECTED,
    REPO,
    Run,
    check_expected,
    expand_args,
    run_ids,
    series_value,
)
from tests.servers.s3 import S3Server, boto_client

NAMESPACE = "default"
BUCKET = "cluster-artifacts"


class ClusterRun(Run):
    """A finished run on the cluster: logs through the kubelet, metrics from the controller."""

    def __init__(self, cluster: Cluster, workflow: dict[str, Any]) -> None:
        phase = (workflow.get("status") or {}).get("phase")
        super().__init__(0 if phase == "Succeeded" else 1, workflow, Path())
        self.cluster = cluster

    def log(self, node: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
        pod = pod_name_of(self.workflow, node)
        kubelet = self.cluster.fake.kubelet
        assert kubelet is not None
        chunks = kubelet.log(
            NAMESPACE, pod, "main", follow=False, tail_lines=None, timestamps=False, previous=False
        )
        return b"".join(chunks).decode(errors="replace")

    def metric(
        self, series: str, labels: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> Any:
        text = self.cluster.replicas[0].controller.registry.text()
        return series_value(text, series, labels)


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _seed_flags(cluster: Cluster, args: list[str]) -> tuple[dict[str, str], list[str]]:
    """What the local flags give, put on the cluster; the `-p` values, the other flags."""
    parameters: dict[str, str] = {}
    rest = list(args)
    while rest:
        flag = rest.pop(0)
        if flag == "-p":
            name, _, value = rest.pop(0).partition("=")
            parameters[name] = value
        elif flag == "--templates":
            for document in _documents(REPO / rest.pop(0)):
                meta = document.setdefault("metadata", {})
                if document["kind"] != "ClusterWorkflowTemplate":
                    meta["namespace"] = NAMESPACE
                cluster.fake.seed(document)
        elif flag == "--secrets-dir":
            for secret in sorted((REPO / rest.pop(0)).iterdir()):
                files = {f.name: f.read_bytes() for f in secret.iterdir() if f.is_file()}
                cluster.fake.add_secret(NAMESPACE, secret.name, files)
        elif flag.startswith("--strict"):
            continue  # the controller's admission does not check field names (as Argo's)
        else:
            raise AssertionError(f"no cluster equivalent for {flag}")
    return parameters, rest


def seed_repository(
    cluster: Cluster, s3: S3Server, *, bucket: str = BUCKET, secrets_namespace: str = NAMESPACE
) -> Any:
    """An S3 bucket as the controller's artifact repository (its ConfigMap in `argoexec`), its
    credentials a Secret of `secrets_namespace`; the boto client of the bucket's server."""
    boto = boto_client(f"http://{s3.endpoint}", s3.access, s3.secret)
    if bucket not in [b["Name"] for b in boto.list_buckets().get("Buckets", [])]:
        boto.create_bucket(Bucket=bucket)
    cluster.fake.add_secret(
        secrets_namespace, "s3-creds", {"access": s3.access, "secret": s3.secret}
    )
    repository = {
        "s3": {
            "endpoint": s3.endpoint,
            "insecure": True,
            "bucket": bucket,
            "accessKeySecret": {"name": "s3-creds", "key": "access"},
            "secretKeySecret": {"name": "s3-creds", "key": "secret"},
        }
    }
    cluster.fake.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "workflow-controller-configmap", "namespace": "argoexec"},
            "data": {"artifactRepository": yaml.safe_dump(repository)},
        }
    )
    return boto


def _workflow(path: Path) -> dict[str, Any]:
    """The file's Workflow; of a CronWorkflow, the one `argo submit --from cronwf/NAME` makes
    (what `argoexec run` runs of it)."""
    for document in _documents(path):
        if document["kind"] == "Workflow":
            return document
        if document["kind"] == "CronWorkflow":
            made = workflow_from_cron(document, datetime.now(UTC))
            made["metadata"].pop("ownerReferences", None)  # no CronWorkflow object exists
            return made
    raise AssertionError(f"{path}: no Workflow")


def _cases() -> list[Any]:
    return [
        pytest.param(entry, id=run_id)
        for run_id, entry in zip(run_ids(EXPECTED), EXPECTED, strict=True)
    ]


@pytest.mark.parametrize("entry", _cases())
def test_example_on_a_cluster_ends_as_it_does_locally(
    entry: dict[str, Any],
    cluster: Cluster,
    moto_server: S3Server,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    seed_repository(cluster, moto_server)
    parameters, rest = _seed_flags(cluster, expand_args(entry.get("args") or [], request))
    assert not rest
    workflow = _workflow(EXAMPLES / entry["file"])
    spec = workflow["spec"]
    declared = (spec.get("arguments") or {}).get("parameters") or []
    if parameters:
        arguments = spec.setdefault("arguments", {})
        arguments["parameters"] = override_parameters(declared, parameters)
    meta = workflow["metadata"]
    if "name" not in meta:
        meta["name"] = f"{meta.pop('generateName', 'wf-')}{int(time.time() * 1000) % 100000}"
    cluster.start_controller()
    cluster.submit(workflow, NAMESPACE)
    cluster.wait_finished(meta["name"], NAMESPACE, timeout=180)
    done = cluster.wait_collected(meta["name"], NAMESPACE)  # artifact GC runs after the end
    check_expected(ClusterRun(cluster, done), entry, capsys)
