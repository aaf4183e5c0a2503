"""``pods/log`` as the node agent (``kubelet.py``) serves it, and the container checks the API
server makes before it asks a kubelet (``pods/log``, ``pods/exec``).

A container's log is what the runtime kept of its stdout and stderr (the local runtime's
``logs/<container>.log``, read as bytes; podman's through ``runtime.logs``). ``tail_lines``
keeps the last lines of what is there when asked; ``follow`` then streams what is appended
until the container has terminated; ``timestamps`` prefixes each line with an RFC 3339 time —
the time the agent read it, as the runtime keeps no time per line.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tests.servers._kube_store import ApiError

if TYPE_CHECKING:
    from tests.servers.kubelet import PodRun

POLL_SECONDS = 0.1


def resolve_container(pod: Mapping[str, Any], name: str, container: str) -> str:
    """The container meant (the pod's only one when none is named), or the API server's 400."""
    spec = pod.get("spec") or {}
    names = [str(c["name"]) for c in spec.get("containers") or []]
    inits = [str(c["name"]) for c in spec.get("initContainers") or []]
    if not container:
        if len(names) == 1:
            return names[0]
        message = (
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        )
        if inits:
            message += f" or one of the init containers: [{' '.join(inits)}]"
        raise ApiError(400, "BadRequest", message)
    if container not in names + inits:
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    return container


def started(run: PodRun, container: str) -> str | None:
    """None once ``container`` has started (running or ended), else why it is waiting."""
    if run.result is None:
        return "ContainerCreating"
    status = run.result.container(container)
    if status.started_at is None and status.exit_code is None:
        return status.waiting_reason
    return None


def _read(run: PodRun, container: str, offset: int) -> bytes:
    runtime = run.runtime
    if runtime is None:
        return b""
    path = runtime.pod_dirs(run.name).log(container)
    if path.is_file():
        with path.open("rb") as log:
            log.seek(offset)
            return log.read()
    return runtime.logs(run.name, container).encode()[offset:]


def _ended(run: PodRun, container: str) -> bool:
    result = run.result
    return run.finished.is_set() or (result is not None and result.container(container).terminated)


def _tail(data: bytes, lines: int | None) -> bytes:
    if lines is None:
        return data
    if lines <= 0:
        return b""
    return b"".join(data.splitlines(keepends=True)[-lines:])


class _Stamper:
    """Prefixes whole lines with the time; a partial line waits for its end (or `flush`)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.partial = enabled, b""

    def __call__(self, data: bytes) -> bytes:
        if not self.enabled:
            return data
        lines = (self.partial + data).splitlines(keepends=True)
        self.partial = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        return b"".join(self._stamp(line) for line in lines)

    def flush(self) -> bytes:
        rest, self.partial = self.partial, b""
        return self._stamp(rest) if rest else b""

    @staticmethod
    def _stamp(line: bytes) -> bytes:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return now.encode() + b" " + line


def stream(
    run: PodRun,
    container: str,
    *,
    follow: bool,
    tail_lines: int | None,
    timestamps: bool,
    stopping: threading.Event,
) -> Iterator[bytes]:
    stamp = _Stamper(timestamps)
    ended = _ended(run, container)
    data = _read(run, container, 0)
    offset = len(data)
    first = stamp(_tail(data, tail_lines))
    if first:
        yield first
    while follow and not ended and not stopping.is_set():
        ended = _ended(run, container)  # before the read: what it wrote until then is read
        chunk = _read(run, container, offset)
        offset += len(chunk)
        out = stamp(chunk)
        if out:
            yield out
        elif not chunk and not ended:
            time.sleep(POLL_SECONDS)
    rest = stamp.flush()
    if rest:
        yield rest
