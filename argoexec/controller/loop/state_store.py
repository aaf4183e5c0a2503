"""`WorkflowStore` on the state directory (`argoexec.controller.state`): the local stand-in for
the Kubernetes API's Workflow resource.

Each Workflow is `STATE_DIR/<name>/workflow.json`, replaced atomically (a reader sees the old
object or the new, never a half-written one). `metadata.resourceVersion` is an integer string
kept in the object: `create` stores "1", every `update` compares the caller's version with the
stored one under the run's lock (an advisory `flock` on its directory) and writes the next, so
of two writers that read the same version one wins and the other gets ConflictError, as with
Kubernetes' optimistic concurrency. Runs written by the old engine carry no resourceVersion and
read as "0".

A controller that waits for outside changes (a CLI's `stop`) has two cheap means:
`version(name)`/`versions()` give a token per run from `stat` alone (inode, mtime, size of
`workflow.json`: every write is a new file), so nothing is parsed until a token moves; and
`wait(timeout)` sleeps until another `DirectoryStore` (any process) creates or updates a
Workflow. Wake-ups travel through one FIFO per subscriber under `STATE_DIR/.wake/`: a writer
writes a byte into each, a subscriber's pending bytes say "something changed since you last
looked" so none is lost between `subscribe()` and `wait()`. FIFOs whose process is gone
(opening them for writing fails with ENXIO) are removed by the next writer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import select
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from argoexec.controller.loop.clone import clone
from argoexec.controller.loop.seams import AlreadyExistsError, ConflictError, NotFoundError
from argoexec.controller.reconcile.nodes import COMPLETED_PHASES
from argoexec.controller.reserve import Reserve
from argoexec.controller.state import RunDir, RunExistsError, StateError, StateStore, check_name
from argoexec.durations import rfc3339

_WAKE_DIR = ".wake"
_WAKE_TMP = ".tmp-"
# Kubernetes' generateName: 5 characters from its alphabet (no vowels, no look-alikes), the
# prefix cut to 58 so a generated name stays a valid label value (63).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_SUFFIX = 5
_GENERATE_PREFIX_MAX = 58
_GENERATE_ATTEMPTS = 8
# How long an update waits for another writer of the same run (whose critical section is one
# read and one atomic write) before giving up.
DEFAULT_LOCK_WAIT_SECONDS = 10.0
# Room kept in the state directory for the write that completes a workflow: a container that
# fills the disk the state directory is on does not cost the run its final state.
_RESERVE = ".reserve"
RESERVE_BYTES = 256 * 1024


class DirectoryStore:
    """Workflows under `root` (the state directory), one run directory each."""

    def __init__(self, root: Path, *, lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS) -> None:
        self.root = root
        self.runs = StateStore(root)
        self._lock_wait = lock_wait
        self._wakeup: _Wakeup | None = None
        self._reserve = Reserve(root / _RESERVE, RESERVE_BYTES)

    # --- WorkflowStore ----------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        return _versioned(self._open(name).read_workflow())

    def list(self) -> list[dict[str, Any]]:
        """Every Workflow, oldest first (by creation, then name). A run that has not recorded
        its Workflow yet (the old engine's, just started) is not listed."""
        found: list[dict[str, Any]] = []
        for run in sorted(self.runs.runs(), key=lambda r: (r.created_ns, r.name)):
            if not run.has_state():
                continue
            try:
                found.append(_versioned(run.read_workflow()))
            except StateError:
                if run.path.exists():
                    raise
                # removed while listing: as if listed a moment later
        return found

    def create(
        self,
        workflow: Mapping[str, Any],
        *,
        files: Mapping[str, str] | None = None,
        before_listed: Callable[[Path], None] | None = None,
    ) -> dict[str, Any]:
        """Store a new Workflow with resourceVersion "1" (and a uid and creationTimestamp unless
        it has them), named `metadata.name` or, without one, `metadata.generateName` plus five
        random characters. AlreadyExistsError if the name is taken. `files` (name: text) are
        written into the run's directory with it: no reader finds the Workflow without them;
        `before_listed` is called with the run's directory before any reader can find it."""
        obj = clone(dict(workflow))
        meta = _metadata(obj)
        if meta.get("resourceVersion"):
            raise StateError("resourceVersion should not be set on objects to be created")
        meta["resourceVersion"] = "1"
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339(time.time()))
        if meta.get("name"):
            self._create(str(meta["name"]), obj, files, before_listed)
        else:
            self._create_generated(obj, files, before_listed)
        self._poke()
        return obj

    def update(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the stored Workflow if the caller's resourceVersion is the stored one
        (ConflictError otherwise), with the next version; `uid` and `creationTimestamp` stay
        the stored ones, as the API server keeps them. Returns the stored object."""
        obj = clone(dict(workflow))
        meta = _metadata(obj)
        name = str(meta.get("name") or "")
        if not name:
            raise StateError("cannot update a Workflow without metadata.name")
        theirs = meta.get("resourceVersion")
        if not theirs:
            raise StateError(
                f"cannot update workflow {name!r} without metadata.resourceVersion: "
                "update the object get() returned"
            )
        run = self._open(name)
        with run.exclusive(wait=self._lock_wait):
            stored = _metadata(run.read_workflow())
            current = _resource_version(stored, name)
            if str(theirs) != current:
                raise ConflictError(
                    f"workflow {name!r} was modified (resourceVersion {theirs}, now {current}): "
                    "read it again and apply the change to the latest version"
                )
            meta["resourceVersion"] = str(int(current) + 1)
            for key in ("uid", "creationTimestamp"):
                if key in stored:
                    meta[key] = stored[key]
            if (obj.get("status") or {}).get("phase") in COMPLETED_PHASES:
                self._reserve.write(lambda: run.write_workflow(obj))
            else:
                self._reserve.keep()  # set aside (again) while the disk has room
                run.write_workflow(obj)
        self._poke()
        return obj

    # --- Cheap change checks ----------------------------------------------------------------

    def version(self, name: str) -> str | None:
        """A token that changes whenever the Workflow is written (None: no such Workflow).
        From `stat` alone: compare it with an earlier one before reading the object again."""
        check_name(name)
        return RunDir(name, self.root / name).workflow_token()

    def versions(self) -> dict[str, str]:
        """`version` of every listed Workflow, by name."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return {}
        tokens: dict[str, str] = {}
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            token = RunDir(entry.name, Path(entry.path)).workflow_token()
            if token is not None:
                tokens[entry.name] = token
        return tokens

    def subscribe(self) -> None:
        """Start noticing writes by other stores (other processes' included): from now on,
        `wait` returns at once if any happened since it last returned. Idempotent."""
        if self._wakeup is None:
            self._wakeup = _Wakeup.open(self.root / _WAKE_DIR)

    def wait(self, timeout: float) -> bool:
        """Block until another store creates or updates a Workflow under this root (True) or
        `timeout` seconds pass (False). Subscribes first if not yet subscribed; writes made
        before the first subscription are not noticed (compare `versions()` for those)."""
        self.subscribe()
        assert self._wakeup is not None
        return self._wakeup.wait(timeout)

    def close(self) -> None:
        """Stop noticing writes (removes this store's FIFO)."""
        if self._wakeup is not None:
            self._wakeup.close()
            self._wakeup = None

    # --- Internals --------------------------------------------------------------------------

    def _open(self, name: str) -> RunDir:
        try:
            check_name(name)
            run = self.runs.open(name)
        except StateError:
            raise NotFoundError(f'workflow "{name}" not found in {self.root}') from None
        if not run.has_state():
            raise NotFoundError(f'workflow "{name}" has not recorded its state yet')
        return run

    def _create(
        self,
        name: str,
        obj: dict[str, Any],
        files: Mapping[str, str] | None = None,
        before_listed: Callable[[Path], None] | None = None,
    ) -> None:
        try:
            self.runs.create(name, workflow=obj, files=files, before_listed=before_listed)
        except RunExistsError as exc:
            raise AlreadyExistsError(f'workflow "{name}" already exists in {self.root}') from exc

    def _create_generated(
        self,
        obj: dict[str, Any],
        files: Mapping[str, str] | None,
        before_listed: Callable[[Path], None] | None,
    ) -> None:
        meta = obj["metadata"]
        prefix = str(meta.get("generateName") or "")
        if not prefix:
            raise StateError("a Workflow needs metadata.name or metadata.generateName")
        for _ in range(_GENERATE_ATTEMPTS):
            suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_NAME_SUFFIX))
            meta["name"] = prefix[:_GENERATE_PREFIX_MAX] + suffix
            with contextlib.suppress(AlreadyExistsError):
                self._create(meta["name"], obj, files, before_listed)
                return
        raise AlreadyExistsError(
            f"no free name for generateName {prefix!r} after {_GENERATE_ATTEMPTS} attempts"
        )

    def _poke(self) -> None:
        own = self._wakeup.path if self._wakeup is not None else None
        _poke_all(self.root / _WAKE_DIR, skip=own)


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise StateError("metadata of a Workflow must be an object")
    return meta


def _resource_version(meta: Mapping[str, Any], name: str) -> str:
    value = str(meta.get("resourceVersion") or "0")
    if not value.isdigit():
        raise StateError(f"workflow {name!r} has a resourceVersion that is not ours: {value!r}")
    return value


def _versioned(workflow: dict[str, Any]) -> dict[str, Any]:
    """The object as stored, with "0" for a missing resourceVersion (the old engine's runs)."""
    meta = _metadata(workflow)
    meta.setdefault("resourceVersion", "0")
    return workflow


class _Wakeup:
    """One subscriber's FIFO: created under a temporary name and renamed once its read end is
    open, so a writer never takes a FIFO being set up for a dead one."""

    def __init__(self, path: Path, read_fd: int, write_fd: int) -> None:
        self.path = path
        self._read_fd = read_fd
        # Our own write end keeps the FIFO from reporting end-of-file (POLLHUP) between
        # writers, which would make `select` return at once forever.
        self._write_fd = write_fd
        self._finalizer = weakref.finalize(self, _release, path, read_fd, write_fd)

    @classmethod
    def open(cls, directory: Path) -> _Wakeup:
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        tmp = directory / f"{_WAKE_TMP}{name}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            os.mkfifo(tmp, 0o600)
            read_fd = os.open(tmp, os.O_RDONLY | os.O_NONBLOCK)
            write_fd = os.open(tmp, os.O_WRONLY | os.O_NONBLOCK)
            os.replace(tmp, directory / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StateError(f"cannot watch {directory.parent} for changes: {exc}") from exc
        return cls(directory / name, read_fd, write_fd)

    def wait(self, timeout: float) -> bool:
        ready, _, _ = select.select([self._read_fd], [], [], max(timeout, 0.0))
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 4096):
                pass
        return True

    def close(self) -> None:
        self._finalizer()


def _release(path: Path, read_fd: int, write_fd: int) -> None:
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(OSError):
        path.unlink()


def _poke_all(directory: Path, *, skip: Path | None) -> None:
    """Wake every subscriber under `directory` but `skip`; remove the FIFOs of gone ones."""
    try:
        entries = [e for e in os.scandir(directory) if not e.name.startswith(_WAKE_TMP)]
    except FileNotFoundError:
        return
    for entry in entries:
        if skip is not None and entry.name == skip.name:
            continue
        try:
            fd = os.open(entry.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no reader: its process is gone
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            continue
        try:
            os.write(fd, b"!")
        except BlockingIOError:
            pass  # full: wake-ups are pending already
        except OSError:
            pass
        finally:
            os.close(fd)
