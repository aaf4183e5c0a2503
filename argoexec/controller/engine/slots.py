"""Where a pod waits before it runs: the workflow's `spec.parallelism` and this machine's cap on
pods running at once (`RunOptions.max_pods`, the local runtime's counterpart of a Kubernetes
node's pod capacity).

Both are counting semaphores, taken in that order (a pod never holds a machine slot while it
waits for the workflow's) and polled, so a stop request or a deadline ends the wait. While it
waits, the pod's node is Pending with a message saying for what, as Argo shows a pod the
scheduler cannot place yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from argoexec.contract import ENV_MAX_PODS

MAX_PODS_HINT = f"--max-pods or {ENV_MAX_PODS}; 0 = no cap"


class PodSlots:
    def __init__(self, workflow_parallelism: int | None, max_pods: int) -> None:
        self._limits: list[tuple[threading.BoundedSemaphore, str]] = []
        if workflow_parallelism:
            self._limits.append(
                (
                    threading.BoundedSemaphore(workflow_parallelism),
                    f"Waiting for a pod slot: the workflow's parallelism ({workflow_parallelism})"
                    " is reached",
                )
            )
        if max_pods:
            self._limits.append(
                (
                    threading.BoundedSemaphore(max_pods),
                    f"Waiting for a pod slot: {max_pods} pods already run, the most this run "
                    f"starts at once ({MAX_PODS_HINT})",
                )
            )

    def acquire(
        self,
        *,
        blocked: Callable[[], str | None],
        waiting: Callable[[str], None],
        poll: float,
    ) -> str | None:
        """Take a slot of every limit; None once taken, else why the pod must not start
        (`blocked()` said so while waiting; nothing is held then). `waiting(message)` is
        called once per limit the pod has to wait for."""
        taken: list[threading.BoundedSemaphore] = []
        for semaphore, message in self._limits:
            if not semaphore.acquire(blocking=False):
                waiting(message)
                while not semaphore.acquire(timeout=poll):
                    reason = blocked()
                    if reason:
                        for held in taken:
                            held.release()
                        return reason
            taken.append(semaphore)
        return None

    def release(self) -> None:
        for semaphore, _ in self._limits:
            semaphore.release()
