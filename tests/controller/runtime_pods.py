"""Helpers (no tests): pod dicts shaped like the ones Argo's controller builds (argo-contract.md
§1.2-1.5) for the local runtime's tests: the legacy layout, init, wait and an emissary main."""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from argoexec.controller.runtime import LocalRuntime, PodResult
from tests.servers.procs import wait_until

EXECUTOR_IMAGE = "quay.io/argoproj/argoexec:v4.1.0"
RESULT_FILE = "/argo/result/result.json"
EMISSARY = ["/var/run/argo/argoexec", "emissary", "--loglevel", "info", "--"]
VAR_RUN = {"name": "var-run-argo", "mountPath": "/var/run/argo"}


def field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def argo_env(container: str, *, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    env = [
        field_env("ARGO_POD_NAME", "metadata.name"),
        field_env("ARGO_POD_UID", "metadata.uid"),
        {"name": "ARGO_WORKFLOW_NAME", "value": "wf"},
        {"name": "ARGO_WORKFLOW_UID", "value": "wf-uid"},
        {"name": "ARGO_CONTAINER_NAME", "value": container},
    ]
    if template is not None:
        env.append({"name": "ARGO_TEMPLATE", "value": json.dumps(template)})
    return [
        *env,
        {"name": "ARGO_NODE_ID", "value": "wf-1234"},
        {"name": "ARGO_INCLUDE_SCRIPT_OUTPUT", "value": "true"},
        {"name": "ARGO_DEADLINE", "value": "0001-01-01T00:00:00Z"},
        {"name": "ARGO_WORKFLOW_NAME", "value": "wf"},
    ]


def container_template(script: str) -> dict[str, Any]:
    return {
        "name": "step",
        "inputs": {},
        "outputs": {},
        "metadata": {},
        "container": {"name": "", "image": "busybox", "command": ["sh", "-c"], "args": [script]},
    }


def argo_pod(name: str, script: str, sidecar: str | None = None, **spec: Any) -> dict[str, Any]:
    """A container template's pod: init → wait + main (``sh -c script`` under the emissary),
    and with ``sidecar`` a user sidecar ``side`` running that script under the emissary."""
    template = container_template(script)
    sidecars = []
    if sidecar is not None:
        side = {"name": "side", "image": "busybox", "command": ["sh", "-c", sidecar]}
        template["sidecars"] = [side]
        sidecars.append(
            {
                **side,
                "command": [*EMISSARY, "sh", "-c", sidecar],
                "env": argo_env("side"),
                "volumeMounts": [VAR_RUN],
            }
        )
    flags = ["--loglevel", "info", "--log-format", "text", "--gloglevel", "0"]
    init = {
        "name": "init",
        "image": EXECUTOR_IMAGE,
        "command": ["argoexec", "init", *flags],
        "env": argo_env("init", template=template),
        "volumeMounts": [VAR_RUN],
    }
    wait = {
        "name": "wait",
        "image": EXECUTOR_IMAGE,
        "command": ["argoexec", "wait", *flags],
        "env": [*argo_env("wait"), {"name": "ARGOEXEC_RESULT_FILE", "value": RESULT_FILE}],
        "volumeMounts": [
            {"name": "tmp-dir-argo", "mountPath": "/tmp", "subPath": "0"},
            VAR_RUN,
            {"name": "result", "mountPath": "/argo/result"},
        ],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    main = {
        "name": "main",
        "image": "busybox",
        "command": [*EMISSARY, "sh", "-c"],
        "args": [script],
        "env": argo_env("main"),
        "volumeMounts": [VAR_RUN],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "argo", "uid": f"uid-{name}"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [
                {"name": "var-run-argo", "emptyDir": {}},
                {"name": "tmp-dir-argo", "emptyDir": {}},
                {"name": "result", "emptyDir": {}},
            ],
            "initContainers": [init],
            "containers": [wait, main, *sidecars],
            **spec,
        },
    }


def plain_pod(name: str, containers: dict[str, str], **spec: Any) -> dict[str, Any]:
    """A pod of ``sh -c`` containers (no executor), volumes and mounts given through ``spec``."""
    mounts = spec.pop("volumeMounts", [])
    return {
        "metadata": {"name": name, "namespace": "argo", "uid": f"uid-{name}"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": n, "image": "alpine", "command": ["sh", "-c", s], "volumeMounts": mounts}
                for n, s in containers.items()
            ],
            **spec,
        },
    }


def result_document(runtime: LocalRuntime, pod: str) -> dict[str, Any]:
    path = runtime.volume_path(pod, "result") / "result.json"
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


class Background:
    """``run_pod`` on a thread, so a test can exec into and signal the running pod."""

    def __init__(self, runtime: LocalRuntime, pod: dict[str, Any]) -> None:
        self.runtime = runtime
        self.name = pod["metadata"]["name"]
        self._pool = ThreadPoolExecutor(max_workers=1)
        self.future: Future[PodResult] = self._pool.submit(runtime.run_pod, pod)

    def wait_running(self, container: str) -> None:
        def started() -> bool:
            status = self.runtime.status(self.name)
            return status is not None and status.container(container).running

        wait_until(started, timeout=60, what=f"container {container} to run")

    def result(self) -> PodResult:
        try:
            return self.future.result(timeout=120)
        finally:
            self._pool.shutdown()
