"""What the pod builder needs besides the template: workflow, node and controller settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argoexec.contract import DEFAULT_EXECUTOR_IMAGE
from argoexec.controller.pod.naming import PodNameVersion, node_id
from argoexec.models import ArtifactRepository


class PodBuildError(ValueError):
    """The controller cannot create the pod (Argo fails the node with this message)."""


class WorkflowDeadlineExceededError(PodBuildError):
    """The workflow deadline has passed: Argo creates no pod at all."""


@dataclass(frozen=True)
class ImageEntrypoint:
    """An entry of the controller's ``images`` index: the image's ENTRYPOINT and CMD."""

    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] | None = None


@dataclass(frozen=True)
class PodContext:
    """Workflow, node and controller-configuration inputs of one pod.

    ``workflow_spec`` is the workflow's ``spec`` in wire form (camelCase): the builder reads
    ``podMetadata``, ``volumes``, ``serviceAccountName``, ``automountServiceAccountToken``,
    ``nodeSelector``, ``affinity``, ``tolerations``, ``schedulerName``, ``podPriorityClassName``,
    ``hostAliases``, ``securityContext``, ``imagePullSecrets``, ``hostNetwork``, ``dnsPolicy``,
    ``dnsConfig``, ``podGC`` and ``archiveLogs`` from it, exactly as Argo does.
    """

    workflow_name: str
    node_name: str
    workflow_uid: str = ""
    namespace: str = "default"
    node_id: str | None = None
    template_name: str | None = None  # defaults to the template's own name
    pod_name_version: PodNameVersion = "v2"
    workflow_spec: Mapping[str, Any] = field(default_factory=dict)
    persistent_volume_claims: Sequence[Mapping[str, Any]] = ()
    # Controller configuration.
    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    executor_image_pull_policy: str | None = None
    executor_args: Sequence[str] = ()
    executor_env: Sequence[Mapping[str, Any]] = ()
    executor_resources: Mapping[str, Any] | None = None
    executor_security_context: Mapping[str, Any] | None = None
    log_level: str = "info"
    log_format: str = "text"
    glog_level: int = 0
    instance_id: str = ""
    images: Mapping[str, ImageEntrypoint] = field(default_factory=dict)
    progress_patch_tick_seconds: float = 60.0
    progress_file_tick_seconds: float = 3.0
    pod_gc_delete_delay: str = "5s"
    # Node execution.
    include_script_output: bool = False
    on_exit: bool = False
    deadline: datetime | None = None  # ARGO_DEADLINE (None: the zero time)
    workflow_deadline: datetime | None = None  # for activeDeadlineSeconds
    template_deadline: datetime | None = None  # template `timeout`
    now: datetime | None = None
    termination_grace_period_seconds: int | None = None
    # Artifact repository (§13) and the variables its key format may use besides
    # workflow.name/namespace/uid and pod.name.
    artifact_repository: ArtifactRepository | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    # Hosts the failed attempts of the enclosing retry ran on, when its retryStrategy asks
    # for `affinity.nodeAntiAffinity` (Argo's RetryOnDifferentHost).
    retry_fail_hosts: Sequence[str] = ()

    def resolved_node_id(self) -> str:
        return self.node_id or node_id(self.workflow_name, self.node_name)

    def log_flags(self) -> list[str]:
        return [
            "--loglevel",
            self.log_level,
            "--log-format",
            self.log_format,
            "--gloglevel",
            str(self.glog_level),
        ]
