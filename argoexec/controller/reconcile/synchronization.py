"""`synchronization` (Argo's mutexes and ConfigMap semaphores) in a reconcile pass: which locks a
workflow or a template asks for, asking the pass's `LockManager` (Settings.locks) for them, and
keeping Argo's status fields: `status.synchronization.{mutex,semaphore}.{holding,waiting}` and a
waiting node's `synchronizationStatus.waiting`.

As Argo's operator: a workflow whose workflow-level locks are not free stays Pending with the
waiting message; a node whose template-level locks are not free is Pending with it; locks are
released when their node is fulfilled and, all of them, when the workflow completes (which then
drops `status.synchronization`). Asking again for locks one holds is free (the manager answers
`acquired`), so a pass repeated after a crash neither double-grants nor loses a lock.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.io import InputError, resolve_parameters
from argoexec.controller.engine.substitute import ArgumentError, SubstitutionError, substitute
from argoexec.controller.expr import ExpressionError

from . import nodes as n
from .clock import epoch
from .context import Frame, Pass, Settings, Visit
from .errors import NodeError
from .locks import MUTEX, SEMAPHORE, Grant, LockError, LockManager, LockRequest

# How soon a waiter asks again (Argo requeues a waiting workflow when a lock is freed; a
# manager shared by processes has no such signal, so waiters poll).
LOCK_RETRY = 1.0
_KINDS = {MUTEX: ("mutex", "holder"), SEMAPHORE: ("semaphore", "holders")}


ConfigMaps = Mapping[str, Mapping[str, str]]
_UNSUPPORTED = "are not supported (no synchronization database)"


def lock_requests(
    sync: Mapping[str, Any], namespace: str, config_maps: ConfigMaps, where: str
) -> list[LockRequest]:
    """The locks `sync` (a `synchronization` block) asks for, in Argo's order (semaphores,
    then mutexes); a form this controller cannot honour is a NodeError naming it."""
    for old, new in (("mutex", "mutexes"), ("semaphore", "semaphores")):
        if sync.get(old) is not None:
            raise NodeError(
                f"{where}.{old}: removed in Argo v4 (use `{new}: [...]`); refusing to run "
                "without the lock"
            )
    requests: list[LockRequest] = []
    for i, ref in enumerate(sync.get("semaphores") or []):
        requests.append(_semaphore(ref, namespace, config_maps, f"{where}.semaphores[{i}]"))
    for i, mutex in enumerate(sync.get("mutexes") or []):
        at = f"{where}.mutexes[{i}]"
        if mutex.get("database"):
            raise NodeError(f"{at}: database mutexes {_UNSUPPORTED}")
        if not mutex.get("name"):
            raise NodeError(f"{at}: a mutex needs a name")
        own = mutex.get("namespace") or namespace
        requests.append(LockRequest(f"{own}/Mutex/{mutex['name']}", MUTEX, 1))
    return requests


def _semaphore(
    ref: Mapping[str, Any], namespace: str, config_maps: Mapping[str, Mapping[str, str]], at: str
) -> LockRequest:
    if ref.get("database"):
        raise NodeError(f"{at}: database semaphores {_UNSUPPORTED}")
    selector = ref.get("configMapKeyRef") or {}
    name, key = selector.get("name"), selector.get("key")
    if not name or not key:
        raise NodeError(f"{at}: a semaphore needs configMapKeyRef.name and .key")
    own = ref.get("namespace") or namespace
    if own != namespace:
        raise NodeError(
            f"{at}: a semaphore's ConfigMap is read from the workflow's namespace {namespace!r} "
            f"only, not {own!r}"
        )
    lock = f"{own}/ConfigMap/{name}/{key}"
    try:
        text = config_maps[str(name)][str(key)]
        limit = int(str(text).strip())
    except (KeyError, ValueError):
        raise NodeError(
            f"failed to initialize semaphore {lock} with limit: ConfigMap {name!r} key {key!r} "
            "is missing or not a number (locally, pass the ConfigMap with --templates)"
        ) from None
    return LockRequest(lock, SEMAPHORE, limit)


def _manager(settings: Settings) -> LockManager:
    if settings.locks is None:
        raise NodeError("synchronization: this controller was started without a lock manager")
    return settings.locks


def _status(workflow: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = workflow.setdefault("status", {})
    return status


def _record(
    workflow: dict[str, Any], holder: str, requests: list[LockRequest], grant: Grant
) -> None:
    """Argo's LockAcquired / LockWaiting on `status.synchronization`."""
    sync = _status(workflow).setdefault("synchronization", {})
    for request in requests:
        kind, field = _KINDS[request.kind]
        part = sync.setdefault(kind, {})
        holding = part.setdefault("holding", [])
        waiting = [w for w in part.get("waiting") or [] if w.get(kind) != request.key]
        others = [h for h in grant.holders.get(request.key, ()) if h != holder]
        if grant.acquired:
            _add_holder(holding, kind, field, request.key, holder)
        elif request.kind == MUTEX:
            waiting.append({kind: request.key, field: others[0] if others else ""})
        else:
            waiting.append({kind: request.key, field: others})
        if waiting:
            part["waiting"] = waiting
        else:
            part.pop("waiting", None)
        if not holding:
            part.pop("holding", None)


def _add_holder(
    holding: list[dict[str, Any]], kind: str, field: str, key: str, holder: str
) -> None:
    if kind == "mutex":
        if not any(h.get(kind) == key and h.get(field) == holder for h in holding):
            holding.append({kind: key, field: holder})
        return
    entry = next((h for h in holding if h.get(kind) == key), None)
    if entry is None:
        holding.append({kind: key, field: [holder]})
    elif holder not in entry.setdefault(field, []):
        entry[field].append(holder)


def _released(workflow: dict[str, Any], holder: str, keys: set[str]) -> None:
    """Argo's LockReleased: a mutex's holding entry goes, a semaphore's loses the holder."""
    sync = _status(workflow).get("synchronization") or {}
    mutex = sync.get("mutex") or {}
    if mutex.get("holding"):
        mutex["holding"] = [
            h for h in mutex["holding"]
            if not (h.get("mutex") in keys and h.get("holder") == holder)
        ]  # fmt: skip
    for entry in (sync.get("semaphore") or {}).get("holding") or []:
        if entry.get("semaphore") in keys and holder in (entry.get("holders") or []):
            entry["holders"].remove(holder)


def _ask(
    workflow: dict[str, Any],
    settings: Settings,
    holder: str,
    sync: Mapping[str, Any],
    *,
    now: float,
    where: str,
) -> Grant:
    requests = lock_requests(sync, settings.namespace, settings.config_maps, where)
    spec = workflow.get("spec") or {}
    created = epoch((workflow.get("metadata") or {}).get("creationTimestamp")) or now
    try:
        grant = _manager(settings).try_acquire(
            holder, requests, priority=int(spec.get("priority") or 0), created=created
        )
    except LockError as exc:  # waits, saying why, and asks again at the next pass
        grant = Grant(False, str(exc), requests[0].key if requests else "")
    _record(workflow, holder, requests, grant)
    return grant


def workflow_holder(workflow: Mapping[str, Any], settings: Settings) -> str:
    return f"{settings.namespace}/{(workflow.get('metadata') or {}).get('name')}"


def hold_workflow(workflow: dict[str, Any], settings: Settings, now: float) -> Grant:
    """Ask for the workflow-level locks (NodeError: a form that cannot be honoured)."""
    sync = (workflow.get("spec") or {}).get("synchronization") or {}
    holder = workflow_holder(workflow, settings)
    return _ask(workflow, settings, holder, sync, now=now, where="spec.synchronization")


def hold_node(
    p: Pass,
    template: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: n.Node | None,
    frame: Frame,
    type_: str,
    template_name: str | None,
    tref: dict[str, Any] | None,
    args: Mapping[str, Any],
) -> Visit | None:
    """Argo's handleSynchronization for node `name`: None when it may run (it holds its locks,
    or it is stopping and will fail without them), else the Pending node waiting for a lock."""
    node = p.nodes.by_name(name)
    if node is not None and not node.get("synchronizationStatus"):
        return None  # it acquired its locks in an earlier pass
    if node is None and p.frozen:
        return None  # suspended: nothing new starts, so nothing is asked for
    holder = f"{p.settings.namespace}/{p.name}/{p.nodes.id_of(name)}"
    if p.halted(frame) is not None:
        _forget_waiting(p, node)
        release_keys(p.workflow, p.settings, holder, _keys(node))
        return None
    sync = _substituted(p, template, frame, args)
    where = f"template {template.get('name')!r}: synchronization"
    before = copy.deepcopy(p.status.get("synchronization"))
    grant = _ask(p.workflow, p.settings, holder, sync, now=p.now, where=where)
    if p.status.get("synchronization") != before:
        p.nodes.changed += 1  # stored with the nodes
    if grant.acquired:
        _forget_waiting(p, node)  # created afresh by its kind's handler, as if it never waited
        return None
    if node is None:
        node = p.nodes.add(
            name, display, type_, now=p.now, parent=parent, boundary_id=frame.boundary_id,
            template_name=template_name, template_ref=tref, template_scope=frame.owner.scope,
        )  # fmt: skip
    p.nodes.set(node, message=grant.message, synchronizationStatus={"waiting": grant.failed})
    p.wake(p.now + LOCK_RETRY)
    return Visit(node)


def _substituted(
    p: Pass, template: Mapping[str, Any], frame: Frame, args: Mapping[str, Any]
) -> dict[str, Any]:
    """The template's `synchronization` with the workflow's variables and the node's inputs
    (Argo takes the locks of the processed template: `{{inputs.parameters.x}}` in a name)."""
    scope = p.globals.child(frame.extra)
    try:
        parameters = resolve_parameters(template, args, frame.scope, scope, p.settings.config_maps)
    except (ArgumentError, SubstitutionError, ExpressionError, InputError, ValueError):
        parameters = []  # the node's handler reports what does not resolve
    scope = scope.with_template_io({"inputs": {"parameters": parameters}})
    try:
        found: dict[str, Any] = substitute(
            dict(template["synchronization"]), scope, allow_unresolved=True,
            location="synchronization",
        )  # fmt: skip
    except SubstitutionError as exc:
        raise NodeError(str(exc)) from None
    return found


def _keys(node: n.Node | None) -> list[str]:
    waiting = ((node or {}).get("synchronizationStatus") or {}).get("waiting")
    return [waiting] if waiting else []


def _forget_waiting(p: Pass, node: n.Node | None) -> None:
    if node is not None and node.get("synchronizationStatus") and node["id"] in p.nodes.map:
        del p.nodes.map[node["id"]]
        p.nodes.changed += 1


def release_keys(
    workflow: dict[str, Any], settings: Settings, holder: str, keys: list[str]
) -> None:
    if not keys or settings.locks is None:
        return
    with contextlib.suppress(LockError):  # as in release_all
        settings.locks.release(holder, keys)
    _released(workflow, holder, set(keys))


def release_fulfilled(p: Pass) -> None:
    """Release the template-level locks of nodes that are over (Argo releases a node's locks
    when it is fulfilled, however it ended: a stop, a deadline, a failed parent)."""
    prefix = f"{p.settings.namespace}/{p.name}/"
    for holder, keys in _holdings(p.workflow).items():
        if not holder.startswith(prefix):
            continue
        node = p.nodes.map.get(holder[len(prefix) :])
        if node is None or n.fulfilled(node):
            release_keys(p.workflow, p.settings, holder, keys)
            p.nodes.changed += 1


def _holdings(workflow: Mapping[str, Any]) -> dict[str, list[str]]:
    """Holder key -> the lock keys it holds, from `status.synchronization`."""
    found: dict[str, list[str]] = {}
    sync = (workflow.get("status") or {}).get("synchronization") or {}
    for entry in (sync.get("mutex") or {}).get("holding") or []:
        found.setdefault(str(entry.get("holder")), []).append(str(entry.get("mutex")))
    for entry in (sync.get("semaphore") or {}).get("holding") or []:
        for holder in entry.get("holders") or []:
            found.setdefault(str(holder), []).append(str(entry.get("semaphore")))
    return found


def held_by(workflow: Mapping[str, Any], holder: str) -> list[str]:
    """The lock keys `holder` holds, as the status records them."""
    return _holdings(workflow).get(holder, [])


def release_all(workflow: dict[str, Any], settings: Settings) -> None:
    """Argo's ReleaseAll when a workflow completes: every lock it holds, every queue it waits
    in, and `status.synchronization` with the nodes' `synchronizationStatus` gone."""
    status = _status(workflow)
    locks = settings.locks
    # A release that cannot be written is not retried: holders of a finished run are
    # reclaimed by the next asker anyway.
    if locks is not None:
        with contextlib.suppress(LockError):
            _release_everything(workflow, status, settings, locks)
    status.pop("synchronization", None)
    for node in (status.get("nodes") or {}).values():
        node.pop("synchronizationStatus", None)


def _release_everything(
    workflow: dict[str, Any], status: Mapping[str, Any], settings: Settings, locks: LockManager
) -> None:
    for holder, keys in _holdings(workflow).items():
        locks.release(holder, keys)
    holder = workflow_holder(workflow, settings)
    for part, kind in (("mutex", "mutex"), ("semaphore", "semaphore")):
        waited = ((status.get("synchronization") or {}).get(part) or {}).get("waiting") or []
        locks.release(holder, [str(w.get(kind)) for w in waited])
    for node in (status.get("nodes") or {}).values():
        keys = _keys(node)
        if keys:
            locks.release(f"{holder}/{node['id']}", keys)
