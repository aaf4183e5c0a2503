"""The files through which a pod's supervisor and any controller process share one pod of the
`local` backend (`LocalPods`), and the FIFO that tells the controller something changed.

Under the pod's directory (`PodDirs.supervisor`, ``<root>/<pod>/supervisor/``)::

    manifest.json     name, workflow, node id and name, creation time: what `observe` filters
                      and keys by. Written before the supervisor starts, exclusively (a second
                      `create` of the pod finds it): while it is there, the pod exists
    pod.json          the pod as created, and config-maps.json the ConfigMaps it may reference;
                      written before the manifest, so any process can start a pod that exists
    supervisor        "<pid> <start ticks>" of the supervisor, written by the supervisor itself
                      before `create` returns
    lock              the pod's lock (`flock`): held by whoever starts the pod's supervisor
                      from before the manifest is written until the supervisor recorded itself
                      (the supervisor inherits it, so it is let go of only then), by a deleter
                      while it marks the pod deleted and looks for its supervisor, and by the
                      supervisor from its last look for a deletion until it exits. A pod with
                      a manifest, no supervisor and a free lock was never started: its creator
                      died while starting it
    exiting           written by the supervisor, under the lock, when it looks for a deletion
                      for the last time: a deleter that then takes the lock knows the
                      supervisor is exiting (a process lets go of its locks before it is gone)
    status.json       the pod's Kubernetes PodStatus (`PodResult.to_k8s`, precise), rewritten on
                      each change; its phase is terminal (Succeeded, Failed) only once every
                      container has ended, as the kubelet reports a pod
    log               the supervisor's own output (its errors)
    requests/         signals for containers (`{"container", "signum"}`, a file each), taken and
                      removed by the supervisor, which execs the kill command in the container
    deleted           the manifest, renamed when the pod is deleted: the pod is no longer
                      observed; the supervisor terminates it, then removes everything but logs

Every file is written to a temporary name and renamed, so a reader sees the old or the new
content, never a part. ``<root>/.changes`` is a FIFO: a supervisor writes a byte after each
status it records (when no controller is reading, nothing); the controller waits on it.

Supervisors import this module: it must not import the models (pydantic), which would cost a
spawned supervisor some 100 ms and 10 MB.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import select
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argoexec.controller.processes import start_ticks
from argoexec.controller.reserve import Reserve
from argoexec.controller.runtime.status import RUNNING, PodResult

CHANGES_FIFO = ".changes"
STATUS_RESERVE_BYTES = 16 * 1024  # a final pod status is a few KiB


def write_json(path: Path, value: Any) -> None:
    """``value`` as JSON at ``path``, atomically (a temporary file renamed over it)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(value, separators=(",", ":")), encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def read_json(path: Path) -> Any:
    """The JSON at ``path``; None if there is none (or it is not JSON: a disk that was full)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Manifest:
    name: str
    workflow: str
    node_id: str
    node_name: str
    created: float  # seconds since the epoch

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workflow": self.workflow,
            "nodeId": self.node_id,
            "nodeName": self.node_name,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest | None:
        if not isinstance(data, dict) or not data.get("name"):
            return None
        return cls(
            name=str(data["name"]),
            workflow=str(data.get("workflow") or ""),
            node_id=str(data.get("nodeId") or ""),
            node_name=str(data.get("nodeName") or ""),
            created=float(data.get("created") or 0.0),
        )


@dataclass(frozen=True)
class PodFiles:
    """The supervisor's directory of one pod."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def deleted(self) -> Path:
        return self.root / "deleted"

    @property
    def pod(self) -> Path:
        return self.root / "pod.json"

    @property
    def config_maps(self) -> Path:
        return self.root / "config-maps.json"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def record(self) -> Path:
        return self.root / "supervisor"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def requests(self) -> Path:
        return self.root / "requests"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def exiting(self) -> Path:
        return self.root / "exiting"

    @property
    def reserve(self) -> Reserve:
        """Room for the pod's final status, kept while it runs: a container that fills the
        disk does not cost the pod its outcome."""
        return Reserve(self.root / "reserve", STATUS_RESERVE_BYTES)

    # --- the pod's lock -----------------------------------------------------------------------

    def lock(self, *, wait: bool) -> int | None:
        """Take the pod's lock: the descriptor that holds it (closing it lets go; so does the
        holder's death, and a forked child holds it as long as its copy is open), or None if
        another process holds it and ``wait`` is False, or there is no pod directory."""
        try:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    @contextlib.contextmanager
    def locked(self) -> Iterator[int | None]:
        """The pod's lock if no other process holds it (its descriptor, else None), let go of
        at the end of the block."""
        fd = self.lock(wait=False)
        try:
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    # --- the pod's existence ------------------------------------------------------------------

    def claim(self, manifest: Manifest) -> bool:
        """Write the manifest unless there is one (or the pod is being deleted): whether this
        call created the pod."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.deleted.exists():
            return False  # still terminating: Kubernetes refuses the name until it is gone
        partial = self.root / f".manifest.{os.getpid()}.partial"
        try:
            partial.write_text(json.dumps(manifest.to_json()), encoding="utf-8")
            os.link(partial, self.manifest)  # fails if it exists: one creator wins
        except FileExistsError:
            return False
        finally:
            partial.unlink(missing_ok=True)
        return True

    def read_manifest(self) -> Manifest | None:
        return Manifest.from_json(read_json(self.manifest))

    def mark_deleted(self) -> bool:
        """Whether the pod existed (and is now marked deleted)."""
        try:
            os.replace(self.manifest, self.deleted)
        except FileNotFoundError:
            return False
        return True

    # --- status -------------------------------------------------------------------------------

    def write_status(self, status: PodResult, *, ended: bool) -> None:
        """The pod's status; the final one (`ended`) with the reserved room if need be."""
        data = status.to_k8s(precise=True)
        if not ended and status.ended:
            # Failed by its deadline or a stop while its containers still terminate: the kubelet
            # reports such a pod Running until they all ended.
            data["phase"] = RUNNING
        if ended:
            self.reserve.write(lambda: write_json(self.status, data))
        else:
            write_json(self.status, data)

    def read_status(self) -> PodResult | None:
        data = read_json(self.status)
        if not isinstance(data, dict):
            return None
        return PodResult.from_k8s(self.root.parent.name, data)

    def status_key(self) -> tuple[int, int, int] | None:
        """What changes whenever the status file is written again (each write is a new file)."""
        try:
            stat = self.status.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    # --- the supervisor -----------------------------------------------------------------------

    def record_supervisor(self, pid: int) -> None:
        partial = self.root / f".supervisor.{pid}.partial"
        partial.write_text(f"{pid} {start_ticks(pid) or ''}\n")
        partial.replace(self.record)

    def supervisor(self) -> tuple[int, str | None] | None:
        """(pid, start ticks) of the pod's supervisor, None if it never recorded itself."""
        try:
            words = self.record.read_text().split()
            return int(words[0]), words[1] if len(words) > 1 else None
        except (OSError, ValueError, IndexError):
            return None

    # --- signal requests ----------------------------------------------------------------------

    def request_signal(self, container: str, signum: int) -> None:
        self.requests.mkdir(exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}.json"
        write_json(self.requests / name, {"container": container, "signum": signum})

    def take_requests(self) -> list[tuple[str, int]]:
        """The signal requests not yet taken, oldest first; each is removed as it is taken."""
        try:
            names = sorted(p for p in os.listdir(self.requests) if not p.startswith("."))
        except OSError:
            return []
        taken: list[tuple[str, int]] = []
        for name in names:
            path = self.requests / name
            data = read_json(path)
            path.unlink(missing_ok=True)
            if isinstance(data, dict) and isinstance(data.get("signum"), int):
                taken.append((str(data.get("container") or ""), int(data["signum"])))
        return taken


# --- the FIFO -------------------------------------------------------------------------------


def ring(root: Path) -> None:
    """Tell the controller (if one is listening) that a pod under ``root`` changed."""
    try:
        fd = os.open(root / CHANGES_FIFO, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no FIFO, or nobody reading (ENXIO): the controller polls when it comes
    try:
        os.write(fd, b".")
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EPIPE):
            raise
    finally:
        os.close(fd)


class Listener:
    """The controller's end of ``<root>/.changes``. It holds a writer of its own as well, so the
    FIFO never reads as closed when no supervisor has it open."""

    def __init__(self, root: Path) -> None:
        path = root / CHANGES_FIFO
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        self._read = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._poll = select.poll()
        self._poll.register(self._read, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """Whether a byte came within ``timeout`` seconds; every byte pending is consumed."""
        if not self._poll.poll(max(0, int(timeout * 1000))):
            return False
        while True:
            try:
                if len(os.read(self._read, 4096)) < 4096:
                    return True
            except BlockingIOError:
                return True

    def close(self) -> None:
        for fd in (self._read, self._keep):
            with contextlib.suppress(OSError):
                os.close(fd)
