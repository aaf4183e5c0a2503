"""Running ``argoexec`` workflow commands against the test cluster, as a user would: through
``argoexec.cli.main`` with a kubeconfig of their own (a user distinct from the controller's)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from tests.cluster.harness import Cluster

USER = "alice"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def said(self) -> str:
        """stderr with the log format's quoting undone (`msg="workflow \\"x\\" ..."`)."""
        return self.err.replace('\\"', '"')


class Cli:
    """``argoexec`` with ``--kubeconfig`` for the test cluster (user `alice`)."""

    def __init__(self, cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
        self.cluster = cluster
        self.capsys = capsys
        self.kubeconfig = cluster.fake.kubeconfig(
            cluster.tmp / "alice.kubeconfig", token=cluster.fake.add_token(USER)
        )

    def __call__(self, *argv: str, kubeconfig: Path | None = None) -> Result:
        self.capsys.readouterr()
        config = str(kubeconfig or self.kubeconfig)
        try:
            code = main([argv[0], "--kubeconfig", config, *argv[1:]])
        finally:
            forget_cli_logging()
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def write(self, name: str, workflow: dict[str, Any]) -> Path:
        path = self.cluster.tmp / f"{name}.yaml"
        body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", **workflow}
        path.write_text(yaml.safe_dump(body), encoding="utf-8")
        return path


def forget_cli_logging() -> None:
    """Remove the handler `main` installed: it writes to this test's captured stderr, which
    is closed once the test ends."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_argoexec", False)]:
        root.removeHandler(handler)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def container(name: str, script: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "container": {"image": "busybox", "command": ["sh", "-c", script]},
        **more,
    }


def workflow(name: str, *templates: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"entrypoint": templates[0]["name"], "templates": list(templates), **spec},
    }


HELLO = workflow("hello", container("main", "echo hello world"))
FAILING = workflow("failing", container("main", "echo about to fail; exit 3"))
SLEEPING = workflow("sleeping", container("main", "sleep 120"))
SUSPENDING = workflow(
    "suspending",
    {
        "name": "main",
        "steps": [
            [{"name": "wait", "template": "gate"}],
            [{"name": "after", "template": "say"}],
        ],
    },
    {"name": "gate", "suspend": {}},
    container("say", "echo resumed"),
)


def node_phases(workflow: dict[str, Any]) -> dict[str, str]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return {str(n.get("displayName")): str(n.get("phase")) for n in nodes.values()}
