"""``argoexec resource ACTION``: the main container of a resource template (argo-contract.md §6).

The API server is reached with ``--kubeconfig`` (and kubectl's override flags), else
``KUBECONFIG``, else the pod's service account. The node's result goes to its
``WorkflowTaskResult`` (or to ``ARGOEXEC_RESULT_FILE`` in the local runtime). What is and is not
supported of kubectl is listed in ``argoexec.executor.resource.command``.
"""

from __future__ import annotations

import argparse

from argoexec.commands import Invocation
from argoexec.commands.pod import kube_client, load_pod, result_sink
from argoexec.executor.resource.command import ResourceJob, run_resource
from argoexec.executor.resource.identity import plural
from argoexec.kube.resources import ResourceClient


def resource(args: argparse.Namespace, inv: Invocation) -> int:
    pod, paths, template = load_pod(inv.config)
    client = kube_client(args, inv.config)
    job = ResourceJob(
        action=args.action,
        template=template,
        paths=paths,
        sink=result_sink(inv.config, lambda: client),
        resources=ResourceClient(client, guess_plural=plural),
        workflow_name=pod.workflow_name,
        workflow_uid=pod.workflow_uid,
        interval=inv.config.resource_state_check_interval,
        stop=inv.stop,
        transient_pattern=inv.config.settings.transient_error_pattern,
    )
    run_resource(job)
    return 0
