"""Mutexes and semaphores (Argo's `synchronization`) as the reconciler asks for them: the
`LockManager` seam a pass is given in its Settings, and `LockTable`, the bookkeeping every
manager shares (Argo's `prioritySemaphore`), on a plain JSON-able dict so that one manager can
keep it in memory (a cluster's controller) and another in a file (a state directory's runs).

A lock is named by Argo's lock key (`<namespace>/Mutex/<name>`,
`<namespace>/ConfigMap/<configmap>/<key>`); a holder by Argo's holder key (`<namespace>/<workflow>`
for a workflow-level lock, `<namespace>/<workflow>/<node id>` for a template-level one).

The table's state, per lock key: `limit` (the last limit asked with), `holders` (holder keys, in
the order they acquired) and `pending` (holder key -> [priority, creation time, last asked]).
Who may acquire a free slot is Argo's order: the highest `spec.priority`, then the oldest
workflow; a holder of the same workflow as the front of the queue may go too (Argo's
`isSameWorkflowNodeKeys`). Nothing here reads a clock or does I/O: `now` is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

MUTEX = "mutex"
SEMAPHORE = "semaphore"
# A waiter asks again on every pass (about once a second); one that has not asked for this long
# has stopped waiting (its workflow ended, or nobody drives it) and no longer heads the queue.
PENDING_EXPIRY = 10.0


class LockError(Exception):
    """A lock manager cannot answer (the state it shares cannot be read or written); the
    message names where and why. The asker waits, with that message, and asks again."""


@dataclass(frozen=True)
class LockRequest:
    """One lock a holder asks for: its key, its kind, and its limit (1 for a mutex; the
    ConfigMap's value for a semaphore, as read now: a changed limit takes effect)."""

    key: str
    kind: str
    limit: int


@dataclass(frozen=True)
class Grant:
    """What `try_acquire` answers: whether every lock is now held, else Argo's waiting message
    and the key of the first lock that is not free; and each asked lock's holders."""

    acquired: bool
    message: str = ""
    failed: str = ""
    holders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class LockManager(Protocol):
    """Locks shared beyond one workflow. Both calls are idempotent: asking again for locks one
    holds answers `acquired`, releasing what one does not hold does nothing."""

    def try_acquire(
        self, holder: str, locks: Sequence[LockRequest], *, priority: int, created: float
    ) -> Grant: ...

    def release(self, holder: str, keys: Sequence[str]) -> None: ...


def workflow_of(holder: str) -> str:
    """`<namespace>/<workflow>` of a holder key (a workflow's key as Argo queues it)."""
    return "/".join(holder.split("/")[:2])


class LockTable:
    """The locks' state (`state`, changed in place) and Argo's rules over it."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def _lock(self, key: str) -> dict[str, Any]:
        lock: dict[str, Any] = self.state.setdefault(key, {})
        lock.setdefault("holders", [])
        lock.setdefault("pending", {})
        return lock

    def forget(self, stale: Callable[[str], bool], now: float, *, asker: str = "") -> None:
        """Drop holders `stale` says are over (their workflow is gone or finished, their node
        ended) and waiters that stopped asking. The asker's own workflow is not looked at (it
        is being driven: that is who asks)."""
        mine = workflow_of(asker) if asker else None

        def over(holder: str) -> bool:
            return workflow_of(holder) != mine and stale(holder)

        for key in list(self.state):
            lock = self._lock(key)
            lock["holders"] = [h for h in lock["holders"] if not over(h)]
            lock["pending"] = {
                h: entry for h, entry in lock["pending"].items()
                if now - float(entry[2]) <= PENDING_EXPIRY and not over(h)
            }  # fmt: skip
            if not lock["holders"] and not lock["pending"]:
                del self.state[key]

    def try_acquire(
        self,
        holder: str,
        locks: Sequence[LockRequest],
        *,
        priority: int,
        created: float,
        now: float,
    ) -> Grant:
        for request in locks:
            lock = self._lock(request.key)
            lock["limit"] = request.limit
            if holder not in lock["holders"]:
                lock["pending"][holder] = [priority, created, now]
        message, failed = "", ""
        for request in locks:
            why = self._refusal(holder, request)
            if why and not failed:
                message, failed = why, request.key
        if not failed:
            for request in locks:
                lock = self._lock(request.key)
                lock["pending"].pop(holder, None)
                if holder not in lock["holders"]:
                    lock["holders"].append(holder)
        holders = {r.key: tuple(self._lock(r.key)["holders"]) for r in locks}
        return Grant(not failed, message, failed, holders)

    def _refusal(self, holder: str, request: LockRequest) -> str:
        """Why `holder` cannot take `request` now (Argo's checkAcquire), "" if it can."""
        lock = self._lock(request.key)
        if holder in lock["holders"]:
            return ""
        limit = request.limit
        if limit <= 0:
            return f"Failed to get semaphore limit for {request.key}"
        held = len(lock["holders"])
        waiting = f"Waiting for {request.key} lock. Lock status: {max(limit - held, 0)}/{limit}"
        front = min(
            lock["pending"].items(),
            key=lambda item: (-int(item[1][0]), float(item[1][1]), item[0]),
        )[0]
        if workflow_of(front) != workflow_of(holder):
            return waiting
        return "" if held < limit else waiting

    def release(self, holder: str, keys: Sequence[str]) -> None:
        for key in keys:
            lock = self.state.get(key)
            if lock is None:
                continue
            if holder in lock.get("holders", []):
                lock["holders"].remove(holder)
            lock.get("pending", {}).pop(holder, None)
            if not lock.get("holders") and not lock.get("pending"):
                del self.state[key]

    def restore(self, holder: str, key: str) -> None:
        """A holder recorded in a Workflow's status holds again, whatever the limit (Argo's
        `reacquire` at controller start: a lowered limit drains before anyone new enters)."""
        lock = self._lock(key)
        if holder not in lock["holders"]:
            lock["holders"].append(holder)
