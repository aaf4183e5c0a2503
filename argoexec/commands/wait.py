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

from argoexec.commands import Invocation
from argoexec.commands.pod import kube_client, load_pod, result_sink
from argoexec.errors import ExecutorError
from argoexec.executor.wait import Wait, run_wait
from argoexec.lifecycle import Stop
from artifacts.driver import DriverContext
from artifacts.secrets import DirSecretResolver

log = logging.getLogger("argoexec.wait")


def _stop_waiting_on_sigterm(waiting: Stop) -> None:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not waiting.is_set():
            log.info("received SIGTERM: no longer waiting; outputs are still saved and reported")
        waiting.set("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)


def wait(args: argparse.Namespace, inv: Invocation) -> int:
    pod, paths, template = load_pod(inv.config)
    waiting = Stop()
    _stop_waiting_on_sigterm(waiting)
    settings = inv.config.settings
    # A token of its own: SIGTERM sets ``waiting`` (and the CLI's ``inv.stop``), never this one.
    ctx = DriverContext(secrets=DirSecretResolver(paths.secrets), settings=settings, stop=Stop())
    job = Wait(
        template=template,
        paths=paths,
        ctx=ctx,
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
