"""``argoexec resource ACTION``: the main container of a resource template (argo-contract.md §6).

The API server is reached with ``--kubeconfig`` (and kubectl's override flags), else
``KUBECONFIG``, else the pod's service account. The node's result goes to its
``WorkflowTaskResult`` (or to ``ARGOEXEC_RESULT_FILE`` in the local runtime). What is and is not
supported of kubectl is listed in ``argoexec.executor.resource.command``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from argoexec.commands import Invocation
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.resource.command import ResourceJob, run_resource
from argoexec.executor.resource.identity import plural
from argoexec.executor.sinks import FileSink, ResultSink
from argoexec.executor.template_source import parse_template, read_template_text
from argoexec.kube.client import KubeClient, KubeOverrides
from argoexec.kube.errors import KubeConfigError
from argoexec.kube.resources import ResourceClient


def _overrides(args: argparse.Namespace) -> KubeOverrides:
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


def _client(args: argparse.Namespace, inv: Invocation) -> KubeClient:
    kubeconfig = getattr(args, "kubeconfig", None)
    try:
        return KubeClient.from_config(
            inv.config,
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            overrides=_overrides(args),
        )
    except KubeConfigError as exc:
        raise ExecutorError(f"cannot reach the Kubernetes API: {exc}") from exc


def _sink(inv: Invocation, client: KubeClient) -> ResultSink:
    pod = inv.config.pod
    if pod.result_file is not None:
        return FileSink(pod.result_file, name=pod.node_id)
    from argoexec.kube.taskresults import KubeResultSink

    return KubeResultSink(
        client,
        name=pod.node_id,
        namespace=client.namespace,
        workflow_name=pod.workflow_name,
        workflow_uid=pod.workflow_uid,
        instance_id=pod.instance_id,
        transient_pattern=inv.config.settings.transient_error_pattern,
    )


def resource(args: argparse.Namespace, inv: Invocation) -> int:
    pod = inv.config.pod
    if not pod.pod_name:
        raise ExecutorError("ARGO_POD_NAME is not set")
    paths = PodPaths.of(pod.var_run_dir, pod.termination_log)
    template = parse_template(read_template_text(pod.template, paths))
    client = _client(args, inv)
    job = ResourceJob(
        action=args.action,
        template=template,
        paths=paths,
        sink=_sink(inv, client),
        resources=ResourceClient(client, guess_plural=plural),
        workflow_name=pod.workflow_name,
        workflow_uid=pod.workflow_uid,
        interval=inv.config.resource_state_check_interval,
        stop=inv.stop,
        transient_pattern=inv.config.settings.transient_error_pattern,
    )
    run_resource(job)
    return 0
