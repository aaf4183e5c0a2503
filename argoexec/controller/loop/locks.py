"""The `LockManager`s the loop gives its passes (Settings.locks), over the reconciler's
`LockTable`:

- `MemoryLocks`: one process's locks (a cluster's controller, a run without a state
  directory). Rebuilt at start from the Workflows' `status.synchronization.*.holding`, as
  Argo's sync manager is, so a restarted controller does not grant a held lock again.
- `FileLocks`: the locks of every run of one state directory (a `controller` and any number of
  `argoexec run` processes at once): `<state>/synchronization.json`, read and replaced (atomic
  rename) under an exclusive `flock` on `<state>/synchronization.lock` for each call. Built
  from the stored Workflows when the file is missing.

Both drop, whenever they are asked, the holders whose Workflow is gone or finished or whose
node is over (as stored: what a holder's own controller has not stored yet is never taken for
over), and the waiters that stopped asking (`PENDING_EXPIRY`): a run killed while it waited
does not head the queue for ever. A run killed while it holds a lock keeps it until it is
driven to its end again (`argoexec controller` takes it over): its pods may still run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from argoexec.controller.reconcile.locks import Grant, LockError, LockRequest, LockTable
from argoexec.controller.reconcile.nodes import FINAL_PHASES
from argoexec.controller.state import StateError, write_atomic

from .seams import NotFoundError

LOCKS_FILE = "synchronization.json"
LOCKS_LOCK = "synchronization.lock"
READ_INTERVAL = 2.0  # seconds a stored Workflow read for the holders' check is used again

Getter = Callable[[str], Mapping[str, Any]]


def stale_holder(get: Getter, key: Callable[[str, str], str]) -> Callable[[str], bool]:
    """Whether a holder key names a holder that is over, by its stored Workflow (`get` by the
    store's key `key(namespace, name)`; NotFoundError: gone). Read once per workflow per call."""
    seen: dict[str, Mapping[str, Any] | None] = {}

    def stale(holder: str) -> bool:
        parts = holder.split("/")
        if len(parts) < 2:
            return True
        name = key(parts[0], parts[1])
        if name not in seen:
            try:
                seen[name] = get(name)
            except (NotFoundError, StateError):
                seen[name] = None
        workflow = seen[name]
        if workflow is None:
            return True
        status = workflow.get("status") or {}
        if status.get("phase") in FINAL_PHASES:
            return True
        if len(parts) == 3:
            node = (status.get("nodes") or {}).get(parts[2])
            return node is not None and node.get("phase") in FINAL_PHASES
        return False

    return stale


def restore_holdings(table: LockTable, workflows: Iterable[Mapping[str, Any]]) -> None:
    """Every holder an unfinished Workflow's status records holds again."""
    for workflow in workflows:
        status = workflow.get("status") or {}
        if status.get("phase") in FINAL_PHASES:
            continue
        sync = status.get("synchronization") or {}
        for entry in (sync.get("mutex") or {}).get("holding") or []:
            if entry.get("holder") and entry.get("mutex"):
                table.restore(str(entry["holder"]), str(entry["mutex"]))
        for entry in (sync.get("semaphore") or {}).get("holding") or []:
            for holder in entry.get("holders") or []:
                table.restore(str(holder), str(entry.get("semaphore")))


class MemoryLocks:
    def __init__(
        self,
        *,
        stale: Callable[[], Callable[[str], bool]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = LockTable({})
        self._stale = stale
        self._clock = clock
        self._mutex = threading.Lock()  # the loop is one thread; a reader (metrics) may not be

    def restore(self, workflows: Iterable[Mapping[str, Any]]) -> None:
        with self._mutex:
            restore_holdings(self.table, workflows)

    def try_acquire(
        self, holder: str, locks: Sequence[LockRequest], *, priority: int, created: float
    ) -> Grant:
        with self._mutex:
            now = self._clock()
            if self._stale is not None:
                self.table.forget(self._stale(), now, asker=holder)
            return self.table.try_acquire(
                holder, locks, priority=priority, created=created, now=now
            )

    def release(self, holder: str, keys: Sequence[str]) -> None:
        with self._mutex:
            self.table.release(holder, keys)


class LockFileError(StateError, LockError):
    """The state directory's lock file cannot be opened, read or written."""


def _shape_problem(data: Any) -> str:
    """Why `data` is not a LockTable's state ("" if it is): a file edited by hand, or
    written by another version, is refused by name instead of failing deep in the table."""
    if not isinstance(data, dict):
        return "not a JSON object"
    for key, lock in data.items():
        if not isinstance(lock, dict):
            return f"lock {key!r} is not an object"
        holders, pending = lock.get("holders", []), lock.get("pending", {})
        if not isinstance(holders, list) or not all(isinstance(h, str) for h in holders):
            return f"lock {key!r}: holders is not a list of holder keys"
        if not isinstance(pending, dict) or not all(
            isinstance(e, list) and len(e) == 3 and all(isinstance(v, int | float) for v in e)
            for e in pending.values()
        ):
            return f"lock {key!r}: pending is not a map of [priority, created, asked]"
    return ""


class FileLocks:
    def __init__(
        self,
        root: Path,
        *,
        get: Getter,
        workflows: Callable[[], Iterable[Mapping[str, Any]]],
        clock: Callable[[], float] = time.time,
        read_interval: float = READ_INTERVAL,
    ) -> None:
        self.path = root / LOCKS_FILE
        self.lock_path = root / LOCKS_LOCK
        self._get = get
        self._workflows = workflows
        self._clock = clock
        self._read_at: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._read_interval = read_interval

    @contextlib.contextmanager
    def _locked(self) -> Iterator[LockTable]:
        """The table, read under the flock and written back (atomically) when it changed."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LockFileError(f"cannot open the lock file {self.lock_path}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            table = LockTable(self._read())
            before = json.dumps(table.state, sort_keys=True)
            yield table
            text = json.dumps(table.state, sort_keys=True)
            if text != before or not self.path.exists():
                try:
                    write_atomic(self.path, text + "\n")
                except StateError as exc:  # its message names the file and the cause
                    raise LockFileError(str(exc)) from None
        finally:
            os.close(fd)  # the flock goes with its descriptor

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            table = LockTable({})
            restore_holdings(table, self._workflows())
            return table.state
        except (OSError, ValueError) as exc:
            raise LockFileError(f"cannot read the locks {self.path}: {exc}") from None
        problem = _shape_problem(data)
        if problem:
            raise LockFileError(
                f"cannot read the locks {self.path}: {problem} (remove the file: it is rebuilt "
                "from the runs' statuses)"
            )
        assert isinstance(data, dict)
        return data

    def try_acquire(
        self, holder: str, locks: Sequence[LockRequest], *, priority: int, created: float
    ) -> Grant:
        with self._locked() as table:
            now = self._clock()
            table.forget(stale_holder(self._recent, lambda _ns, name: name), now, asker=holder)
            return table.try_acquire(holder, locks, priority=priority, created=created, now=now)

    def _recent(self, name: str) -> Mapping[str, Any]:
        """The stored Workflow `name`, read at most every `READ_INTERVAL` seconds (waiters ask
        every pass; a large run's status is not parsed each time: a holder found over a
        moment late costs nothing but that moment)."""
        kept = self._read_at.get(name)
        if kept is not None and time.monotonic() - kept[0] < self._read_interval:
            return kept[1]
        found = self._get(name)  # not found is never kept: a new run may take the name
        self._read_at[name] = (time.monotonic(), found)
        return found

    def release(self, holder: str, keys: Sequence[str]) -> None:
        with self._locked() as table:
            table.release(holder, keys)


__all__ = ["FileLocks", "LockFileError", "MemoryLocks", "restore_holdings", "stale_holder"]
