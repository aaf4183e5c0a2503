"""Helpers for the ``resource`` tests: a resource step run in-process against the fake API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from argoexec.executor.paths import PodPaths
from argoexec.executor.resource.command import ResourceJob, run_resource
from argoexec.executor.resource.identity import plural
from argoexec.kube.client import KubeClient
from argoexec.kube.resources import ResourceClient
from argoexec.kube.taskresults import KubeResultSink
from argoexec.models import Template
from argoexec.retry import Backoff
from tests.servers.kube import FakeKube

COMPLETED_LABEL = "workflows.argoproj.io/report-outputs-completed"

NS = "default"
NODE, WF, WF_UID = "wf-node-1", "wf", "wf-uid-1"
FAST = Backoff(steps=4, duration=0.0, factor=5.0, jitter=0.1)


def as_yaml(*docs: Any) -> str:
    return yaml.safe_dump_all(docs) if len(docs) > 1 else yaml.safe_dump(docs[0])


def configmap(name: str = "cm", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def workflow(name: str = "child", **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"entrypoint": "main", "templates": [{"name": "main"}]},
    }
    if status:
        obj["status"] = status
    return obj


@dataclass
class Step:
    """One resource step: its pod paths in ``tmp``, a client for the fake, its task result."""

    kube: FakeKube
    tmp: Path

    def client(self) -> KubeClient:
        config = self.kube.kubeconfig(self.tmp / "kubeconfig", token=self.kube.token)
        return KubeClient.from_kubeconfig([config])

    def job(
        self,
        action: str,
        manifest: Any = "",
        *,
        outputs: list[dict[str, Any]] | None = None,
        inputs: dict[str, Any] | None = None,
        archive_logs: bool = False,
        **resource: Any,
    ) -> ResourceJob:
        text = manifest if isinstance(manifest, str) else as_yaml(manifest)
        doc: dict[str, Any] = {
            "name": "r",
            "resource": {"action": action, "manifest": text, **resource},
        }
        if outputs is not None:
            doc["outputs"] = {"parameters": outputs}
        if inputs is not None:
            doc["inputs"] = inputs
        if archive_logs:
            doc["archiveLocation"] = {"archiveLogs": True}
        client = self.client()
        sink = KubeResultSink(
            client, name=NODE, namespace=NS, workflow_name=WF, workflow_uid=WF_UID, timeout=10
        )
        return ResourceJob(
            action=action,
            template=Template.model_validate(doc),
            paths=PodPaths(manifest=self.tmp / "manifest.yaml"),
            sink=sink,
            resources=ResourceClient(client, guess_plural=plural),
            workflow_name=WF,
            workflow_uid=WF_UID,
            interval=0.02,
            backoff=FAST,
        )

    def run(self, action: str, manifest: Any = "", **kwargs: Any) -> ResourceJob:
        job = self.job(action, manifest, **kwargs)
        run_resource(job)
        return job

    def task_result(self) -> dict[str, Any]:
        found = self.kube.get("workflowtaskresults", NODE, NS, group="argoproj.io")
        assert found is not None, "no task result"
        return dict(found)

    def completed(self) -> bool:
        labels = self.task_result()["metadata"].get("labels") or {}
        return bool(labels.get(COMPLETED_LABEL) == "true")

    def parameters(self) -> dict[str, str | None]:
        params = (self.task_result().get("outputs") or {}).get("parameters") or []
        return {p["name"]: p.get("value") for p in params}


@contextmanager
def meanwhile(action: Callable[[], None], after: Callable[[], bool]) -> Iterator[None]:
    """Run ``action`` in a thread once ``after()`` holds (e.g. after two polls)."""

    def worker() -> None:
        deadline = time.monotonic() + 20
        while not after() and time.monotonic() < deadline:
            time.sleep(0.01)
        action()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=25)
