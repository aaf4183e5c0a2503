"""What the pod sub-commands (init, wait, resource) share: the pod's template and paths, the
Kubernetes client from kubectl-style flags, and the sink the node result goes to."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from argoexec.config import ExecutorConfig, PodEnv
from argoexec.contract import ENV_POD_NAME
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.sinks import FileSink, ResultSink
from argoexec.executor.staging import read_template_text

if TYPE_CHECKING:
    # Imported on use: http.client and the kube client cost init (which never reports) ~10 ms;
    # the models cost a ``wait`` without artifacts (most) ~80 ms.
    from argoexec.kube.client import KubeClient, KubeOverrides
    from argoexec.models import Template


def pod_paths(config: ExecutorConfig) -> tuple[PodEnv, PodPaths]:
    """The pod's environment and its paths (ARGO_POD_NAME is required)."""
    pod = config.pod
    if not pod.pod_name:
        raise ExecutorError(f"{ENV_POD_NAME} is not set")
    return pod, PodPaths.of(pod.var_run_dir, pod.termination_log, pod.path_map)


def load_pod(config: ExecutorConfig) -> tuple[PodEnv, PodPaths, Template]:
    """The pod's environment, its paths and the template it runs, validated."""
    from argoexec.executor.template_source import parse_template

    pod, paths = pod_paths(config)
    return pod, paths, parse_template(read_template_text(pod.template, paths))


def kube_overrides(args: argparse.Namespace) -> KubeOverrides:
    """kubectl's client flags, as given after the sub-command."""
    from argoexec.kube.client import KubeOverrides

    return KubeOverrides(
        context=getattr(args, "context", None),
        cluster=getattr(args, "cluster", None),
        user=getattr(args, "user", None),
        namespace=getattr(args, "namespace", None),
        server=getattr(args, "server", None),
        token=getattr(args, "token", None),
        insecure_skip_tls_verify=getattr(args, "insecure_skip_tls_verify", None),
        certificate_authority=getattr(args, "certificate_authority", None),
    )


def kube_client(args: argparse.Namespace, config: ExecutorConfig) -> KubeClient:
    """``--kubeconfig`` (with kubectl's overrides), else ``KUBECONFIG``, else in-cluster."""
    from argoexec.kube.client import KubeClient
    from argoexec.kube.errors import KubeConfigError

    kubeconfig = getattr(args, "kubeconfig", None)
    try:
        return KubeClient.from_config(
            config,
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            overrides=kube_overrides(args),
        )
    except KubeConfigError as exc:
        raise ExecutorError(f"cannot reach the Kubernetes API: {exc}") from exc


def result_sink(config: ExecutorConfig, connect: Callable[[], KubeClient]) -> ResultSink:
    """``ARGOEXEC_RESULT_FILE`` → a file (the local runtime); else the node's
    ``WorkflowTaskResult`` through the API server ``connect`` returns."""
    pod = config.pod
    if pod.result_file is not None:
        return FileSink(pod.result_file, name=pod.node_id)
    from argoexec.kube.taskresults import KubeResultSink

    client = connect()
    return KubeResultSink(
        client,
        name=pod.node_id,
        namespace=client.namespace,
        workflow_name=pod.workflow_name,
        workflow_uid=pod.workflow_uid,
        instance_id=pod.instance_id,
        transient_pattern=config.settings.transient_error_pattern,
    )
