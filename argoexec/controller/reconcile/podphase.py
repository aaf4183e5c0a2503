"""How a finished pod becomes a node phase and message: Argo's ``inferFailedReason``.

For a pod that did not succeed, in Argo's order (init containers, then the main containers,
then ``wait``, then the rest):

1. a pod-level message (the deadline) is the node's message, verbatim, and the node Fails;
2. the first container that never started makes the node Error: ``Pod failed before <ctr>
   container starts due to <Reason>: <Message>`` (a missing ConfigMap is
   ``CreateContainerConfigError: configmap "x" not found``);
3. the first container that exited non-zero gives ``<ctr>: <Reason> (exit code N)[: <termination
   message>]``: the executor's ``init`` and ``wait`` make the node Error, a main container or a
   sidecar makes it Fail (a sidecar's 137 and 143 are ignored: Argo killed it);
4. otherwise the node Succeeds only if both main and wait exited 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from argoexec.contract import INIT_CONTAINER, MAIN_CONTAINER, WAIT_CONTAINER
from argoexec.controller.runtime.status import ContainerStatus, PodResult

from . import nodes as n

_KILLED_BY_ARGO = (137, 143)


def assess(result: PodResult, mains: Sequence[str]) -> tuple[str, str]:
    """(phase, message) of the node of a pod that ended."""
    if result.phase == n.SUCCEEDED:
        return n.SUCCEEDED, ""
    if result.message:
        return n.FAILED, result.message
    containers = [*result.init_containers, *_ordered(result.containers, mains)]
    if not containers:
        return n.FAILED, f"can't find failed message for pod {result.name}"
    return _first_failure(containers, mains) or _all_exited_zero(containers, mains)


def _all_exited_zero(
    containers: Sequence[ContainerStatus], mains: Sequence[str]
) -> tuple[str, str]:
    ok = {s.name for s in containers if s.exit_code == 0}
    main_ok, wait_ok = any(m in ok for m in mains), WAIT_CONTAINER in ok
    if main_ok and wait_ok:
        return n.SUCCEEDED, ""
    if main_ok or wait_ok:
        which = WAIT_CONTAINER if main_ok else MAIN_CONTAINER
        return n.FAILED, f"pod failed: {which} container did not complete successfully"
    return n.FAILED, "pod failed: neither main nor wait container completed successfully"


def _first_failure(
    containers: Sequence[ContainerStatus], mains: Sequence[str]
) -> tuple[str, str] | None:
    for status in containers:
        if status.exit_code is None and status.started_at is None:
            reason = status.waiting_reason
            return n.ERROR, (
                f"Pod failed before {status.name} container starts due to {reason}: "
                f"{status.message}"
            )
        if status.exit_code not in (None, 0):
            verdict = _exited(status, mains)
            if verdict is not None:
                return verdict
    return None


def _ordered(containers: Sequence[ContainerStatus], mains: Sequence[str]) -> list[ContainerStatus]:
    def rank(status: ContainerStatus) -> int:
        return 1 if status.name in mains else 2 if status.name == WAIT_CONTAINER else 3

    return sorted(containers, key=rank)  # stable, as Go's sort of the same keys in practice


def _exited(status: ContainerStatus, mains: Sequence[str]) -> tuple[str, str] | None:
    message = f"{status.reason} (exit code {status.exit_code})"
    if status.message.strip():
        message = f"{message}: {status.message.strip()}"
    message = f"{status.name}: {message}"
    if status.name in (INIT_CONTAINER, WAIT_CONTAINER):
        return n.ERROR, message
    if status.name in mains:
        return n.FAILED, message
    if status.exit_code in _KILLED_BY_ARGO:
        return None
    return n.FAILED, message
