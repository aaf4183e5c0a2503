"""``argoexec wait``: the legacy wait container (argo-contract.md §4).

SIGTERM (the controller's ``kill 15 1`` once main has finished, or pod deletion) only ends the
waiting: the handler installed here sets the waiting token, and capturing, uploading and
reporting run on tokens SIGTERM never sets. Exit 0, or 64 with every collected error (joined
with ``; ``) in the termination log.
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from types import FrameType

from argoexec.commands import Invocation
from argoexec.config import ExecutorConfig
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.sinks import FileSink, ResultSink
from argoexec.executor.template_source import parse_template, read_template_text
from argoexec.executor.wait import Wait, run_wait
from argoexec.lifecycle import Stop
from artifacts.driver import DriverContext
from artifacts.secrets import DirSecretResolver

log = logging.getLogger("argoexec.wait")


def result_sink(config: ExecutorConfig, args: argparse.Namespace) -> ResultSink:
    """``ARGOEXEC_RESULT_FILE`` → a file (the local runtime); else the ``WorkflowTaskResult``
    through the API server (``--kubeconfig`` and kubectl's flags, else ``KUBECONFIG``, else the
    pod's service account)."""
    pod = config.pod
    if pod.result_file is not None:
        return FileSink(pod.result_file, name=pod.node_id)
    from argoexec.commands.artifact_location import kube_overrides
    from argoexec.kube.client import KubeClient
    from argoexec.kube.taskresults import KubeResultSink

    kubeconfig = getattr(args, "kubeconfig", None)
    client = KubeClient.from_config(
        config,
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        overrides=kube_overrides(args),
    )
    return KubeResultSink(
        client,
        name=pod.node_id,
        namespace=client.namespace,
        workflow_name=pod.workflow_name,
        workflow_uid=pod.workflow_uid,
        instance_id=pod.instance_id,
        transient_pattern=config.settings.transient_error_pattern,
    )


def _stop_waiting_on_sigterm(waiting: Stop) -> None:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not waiting.is_set():
            log.info("received SIGTERM: no longer waiting; outputs are still saved and reported")
        waiting.set("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)


def wait(args: argparse.Namespace, inv: Invocation) -> int:
    pod = inv.config.pod
    if not pod.pod_name:
        raise ExecutorError("ARGO_POD_NAME is not set")
    waiting = Stop()
    _stop_waiting_on_sigterm(waiting)
    paths = PodPaths.of(pod.var_run_dir, pod.termination_log)
    template = parse_template(read_template_text(pod.template, paths))
    settings = inv.config.settings
    # A token of its own: SIGTERM sets ``waiting`` (and the CLI's ``inv.stop``), never this one.
    ctx = DriverContext(secrets=DirSecretResolver(paths.secrets), settings=settings, stop=Stop())
    job = Wait(
        template=template,
        paths=paths,
        ctx=ctx,
        sink=result_sink(inv.config, args),
        pod=pod,
        backoff=settings.backoff,
        waiting=waiting,
    )
    outcome = run_wait(job)
    if outcome.errors:
        raise ExecutorError("; ".join(outcome.errors))
    return 0
