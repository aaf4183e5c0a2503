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
from types import FrameType
from typing import TYPE_CHECKING

from argoexec.commands import Invocation
from argoexec.commands.pod import kube_client, pod_paths, result_sink
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.staging import read_template_text
from argoexec.executor.wait import Wait, run_wait
from argoexec.executor.wait_template import read_wait_template
from argoexec.lifecycle import Stop
from artifacts.settings import TransferSettings

if TYPE_CHECKING:
    from artifacts.driver import DriverContext

log = logging.getLogger("argoexec.wait")


def _stop_waiting_on_sigterm(waiting: Stop) -> None:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not waiting.is_set():
            log.info("received SIGTERM: no longer waiting; outputs are still saved and reported")
        waiting.set("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)


def _driver_context(paths: PodPaths, settings: TransferSettings) -> DriverContext:
    # Imported on use: only templates that save artifacts or logs need the artifact layer.
    from artifacts.driver import DriverContext
    from artifacts.secrets import DirSecretResolver

    # A token of its own: SIGTERM sets ``waiting`` (and the CLI's ``inv.stop``), never this one.
    return DriverContext(secrets=DirSecretResolver(paths.secrets), settings=settings, stop=Stop())


def wait(args: argparse.Namespace, inv: Invocation) -> int:
    pod, paths = pod_paths(inv.config)
    template = read_wait_template(read_template_text(pod.template, paths))
    waiting = Stop()
    _stop_waiting_on_sigterm(waiting)
    settings = inv.config.settings
    job = Wait(
        template=template,
        paths=paths,
        ctx=lambda: _driver_context(paths, settings),
        sink=result_sink(inv.config, lambda: kube_client(args, inv.config)),
        pod=pod,
        backoff=settings.backoff,
        waiting=waiting,
        max_parameters_bytes=inv.config.max_output_parameters_bytes,
    )
    outcome = run_wait(job)
    if outcome.errors:
        raise ExecutorError("; ".join(outcome.errors))
    return 0
