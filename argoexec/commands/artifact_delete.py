"""``argoexec artifact delete``: the artifact-GC pod's main container (argo-contract.md §9.1).

The controller sets ``ARGO_ARTIFACT_POD_NAME`` (the pod's hash, which labels its
``WorkflowArtifactGCTask``s); without it there is nothing to do, as in Argo. Secrets come from the
pod's ``/argo/secret/<name>/<key>`` volumes; the API from the pod's service account (or
``--kubeconfig``).
"""

from __future__ import annotations

import argparse

from argoexec.commands import Invocation
from argoexec.commands.pod import kube_client
from argoexec.executor.paths import PodPaths


def delete(args: argparse.Namespace, inv: Invocation) -> int:
    from argoexec.executor.artifact_gc import collect_tasks
    from artifacts.driver import DriverContext
    from artifacts.secrets import DirSecretResolver

    pod = inv.config.pod
    if not pod.artifact_gc_pod_hash:
        return 0
    paths = PodPaths.of(pod.var_run_dir, pod.termination_log, pod.path_map)
    ctx = DriverContext(
        secrets=DirSecretResolver(paths.secrets), settings=inv.config.settings, stop=inv.stop
    )
    client = kube_client(args, inv.config)
    collect_tasks(client, client.namespace, pod.artifact_gc_pod_hash, lambda _artifact: ctx)
    return 0
