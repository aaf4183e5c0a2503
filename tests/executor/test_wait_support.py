"""Helpers for the ``wait`` unit tests: a pod laid out in a temporary directory.

``FakePod.main_exits`` plays the main container's side with the emissary's real output copying
(:func:`argoexec.emissary.outputs.copy_outputs`), so ``wait`` reads exactly what it would in a
pod. Paths in test templates are absolute paths below ``FakePod.work`` (main's filesystem).
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argoexec.config import PodEnv
from argoexec.emissary.outputs import copy_outputs
from argoexec.executor.paths import PodPaths
from argoexec.executor.sinks import FileSink, ResultSink
from argoexec.executor.wait import Wait, WaitOutcome, run_wait
from argoexec.executor.wait_template import read_wait_template
from argoexec.lifecycle import Stop
from argoexec.retry import Backoff
from argoexec.varrun import VarRun
from artifacts.driver import DriverContext
from artifacts.secrets import MappingSecretResolver
from tests.servers.backend import Backend


@dataclass
class FakePod:
    root: Path
    result_file: Path = field(init=False)

    def __post_init__(self) -> None:
        for name in ("var-run-argo", "work", "mainctrfs", "staging"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self.result_file = self.root / "result.json"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def varrun(self) -> VarRun:
        return VarRun(self.root / "var-run-argo")

    @property
    def paths(self) -> PodPaths:
        return PodPaths(
            varrun=self.varrun,
            mainctrfs=self.root / "mainctrfs",
            termination_log=self.root / "termination-log",
            secrets=self.root / "secrets",
        )

    def mirror(self, path: str) -> Path:
        return self.paths.mirror(path)

    def main_exits(
        self,
        template: dict[str, Any],
        files: dict[str, bytes] | None = None,
        *,
        stdout: bytes = b"",
        combined: bytes | None = None,
        code: int = 0,
        containers: tuple[str, ...] = ("main",),
    ) -> None:
        """Write main's files, copy outputs as its emissary does, then the exit code files."""
        for path, data in (files or {}).items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)
        assert copy_outputs(template, self.varrun) == []
        for ctr in containers:
            self.varrun.ctr(ctr).mkdir(parents=True, exist_ok=True)
            self.varrun.stdout(ctr).write_bytes(stdout)
            self.varrun.combined(ctr).write_bytes(stdout if combined is None else combined)
            self.varrun.exitcode(ctr).write_text(str(code))

    def result(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.result_file.read_text())
        return doc


def archive_location(backend: Backend, key: str = "wf/pod", **extra: Any) -> dict[str, Any]:
    return {"s3": backend.artifact(key).to_wire()["s3"], **extra}


def run(
    pod: FakePod,
    template: dict[str, Any],
    backend: Backend | None = None,
    *,
    sink: ResultSink | None = None,
    waiting: Stop | None = None,
    pre_main_failed: bool = False,
    **env: Any,
) -> WaitOutcome:
    ctx = backend.ctx if backend is not None else DriverContext(MappingSecretResolver({}))
    env.setdefault("include_script_output", True)
    job = Wait(
        template=read_wait_template(json.dumps(template)),
        paths=pod.paths,
        ctx=lambda: ctx,
        sink=sink or FileSink(pod.result_file, name="wf-node-1"),
        pod=PodEnv(pod_name="wf-pod", **env),
        backoff=Backoff(steps=1),
        waiting=waiting or Stop(),
        staging=pod.root / "staging",
        pre_main_failed=pre_main_failed,
    )
    return run_wait(job)


def untar(data: bytes) -> dict[str, bytes | None]:
    """Entry name → content (None for directories) of a tar+gzip."""
    out: dict[str, bytes | None] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            f = tar.extractfile(member)
            out[member.name] = f.read() if f is not None else None
    return out
