"""Runtimes that run the pods the controller builds: ``local`` (sandboxed host processes) now;
podman and Kubernetes implement the same ``Runtime`` protocol later."""

from __future__ import annotations

from argoexec.controller.runtime.local import LocalRuntime
from argoexec.controller.runtime.process import ExecResult
from argoexec.controller.runtime.protocol import Runtime
from argoexec.controller.runtime.status import ContainerStatus, PodResult

__all__ = ["ContainerStatus", "ExecResult", "LocalRuntime", "PodResult", "Runtime"]
