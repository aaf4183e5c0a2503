"""``argoexec agent init|main``: the agent pod of a workflow with `http` templates (Argo's
`argoexec agent`). ``main`` serves the tasks of the `WorkflowTaskSet` named after the workflow
(``ARGO_WORKFLOW_NAME``) in the pod's namespace (`controller.tasks.agent`); header secrets are
read through the API with the pod's service account. ``init`` prepares the executor plugins'
tokens in Argo; there are no executor plugins here, so it has nothing to do."""

from __future__ import annotations

import argparse
import logging

from argoexec.commands import Invocation
from argoexec.commands.pod import kube_client
from argoexec.contract import ENV_WORKFLOW_NAME
from argoexec.errors import ExecutorError

log = logging.getLogger("argoexec.agent")


def agent(args: argparse.Namespace, inv: Invocation) -> int:
    if args.phase == "init":
        log.info("agent init: no executor plugins to prepare")
        return 0
    from argoexec.controller.tasks.agent import Agent
    from argoexec.kube.secrets import KubeSecretResolver

    workflow = inv.config.pod.workflow_name
    if not workflow:
        raise ExecutorError(f"argoexec agent: {ENV_WORKFLOW_NAME} is not set")
    client = kube_client(args, inv.config)
    namespace = client.namespace
    settings = inv.config.agent
    log.info("starting agent for %s/%s (%d task workers, results patched every %gs)",
             namespace, workflow, settings.task_workers, settings.patch_rate)  # fmt: skip
    Agent(
        client=client,
        namespace=namespace,
        workflow=workflow,
        secrets=lambda: KubeSecretResolver(client.config, namespace=namespace),
        stop=inv.stop,
        workers=settings.task_workers,
        patch_rate=settings.patch_rate,
    ).run()
    return 0
