"""The controller loop: reconcile every unfinished Workflow of a store whenever one of its pods
may have changed, when a pass asked to be called again (backoff, suspend duration, deadline),
and now and then for changes made from outside (`stop`, `resume`).

Order of work in one round, as Argo's: a pass's pod creations and signals are carried out at
once; the status is stored at most every `write_interval` seconds (a workflow of thousands of
nodes changes on every pod event; its status is written a few times per second, never once per
node change) and always when the workflow completes; pod deletions wait until the status that
records those pods' ends is stored. A controller that dies at any point loses nothing: the next
one reads the stored Workflow, observes the pods (which outlive it), and re-derives the rest;
pods it asks for again already exist (same names) and are not created twice. A finished
Workflow is passed over once by each controller, for the pods a controller that died between
storing its end and deleting them left behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoexec.controller import artgc
from argoexec.controller.loop.clone import clone
from argoexec.controller.reconcile import (
    CreatePod,
    DeletePod,
    Event,
    Outcome,
    RunTask,
    SaveCacheEntry,
    Settings,
    SignalContainer,
    reconcile,
)
from argoexec.controller.reconcile.nodes import FINAL_PHASES

from .caches import MemoryCaches
from .patch import apply, diff
from .seams import (
    ConflictError,
    MemoizationCaches,
    NotFoundError,
    Observed,
    OneBackend,
    PodBackend,
    PodBackends,
    TaskBackend,
    WorkflowStore,
)

log = logging.getLogger("argoexec.controller")

MAX_REAPPLY = 5  # as Argo's reapplyUpdate
WRITE_INTERVAL = 0.25  # seconds between two writes of one workflow's status
RESYNC_INTERVAL = 1.0  # seconds between two reads of a workflow for changes made outside
IDLE_WAIT = 0.5  # the longest a round waits for a pod event
# A workflow whose last pass changed nothing is passed over again only when something may have
# changed (a pod event, a change from outside, a time it asked to be called at), or after this
# long in any case (a level-triggered safety net: what no event announced is seen then).
SETTLED_PASS_INTERVAL = 1.0


class FinalWriteError(Exception):
    """A finished workflow's status could not be stored; `workflow` is what it is."""

    def __init__(self, workflow: dict[str, Any], cause: str) -> None:
        super().__init__(cause)
        self.workflow = workflow
        self.cause = cause


@dataclass
class _Run:
    """What the loop keeps of one workflow between rounds (a cache: the store has the truth)."""

    workflow: dict[str, Any]
    base: dict[str, Any] = field(default_factory=dict)  # as last read or stored
    dirty: bool = False  # changed since it was last stored
    written_at: float = 0.0  # monotonic
    read_at: float = 0.0  # monotonic
    wake_at: float | None = None  # epoch seconds
    deletes: list[str] = field(default_factory=list)  # pods to delete once stored
    settled: bool = False  # its last pass changed nothing and asked for nothing
    passed_at: float = 0.0  # monotonic


def workflow_name(workflow: Mapping[str, Any]) -> str:
    return str(workflow["metadata"]["name"])


def finished(workflow: Mapping[str, Any]) -> bool:
    return (workflow.get("status") or {}).get("phase") in FINAL_PHASES


class Controller:
    def __init__(
        self,
        store: WorkflowStore,
        pods: PodBackend | PodBackends,
        settings: Settings | Callable[[str], Settings],
        *,
        claim: Callable[[str], bool] | None = None,
        release: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        write_interval: float = WRITE_INTERVAL,
        on_events: Callable[[str, Outcome], None] | None = None,
        on_stored: Callable[[dict[str, Any]], None] | None = None,
        key: Callable[[Mapping[str, Any]], str] = workflow_name,
        prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        collect: Callable[[str, dict[str, Any]], bool] | None = None,
        tasks: TaskBackend | None = None,
        caches: MemoizationCaches | None = None,
    ) -> None:
        self.store = store
        # Where memoization caches live (this process's memory unless told).
        self.caches: MemoizationCaches = caches if caches is not None else MemoryCaches()
        # One backend for every workflow, or (a cluster's namespaces) one per workflow key.
        self.pods: PodBackends = pods if isinstance(pods, PodBackends) else OneBackend(pods)
        # How a workflow is named in the store, the settings and the backends (a cluster's
        # `namespace/name`: names are unique per namespace only).
        self.key = key
        # Makes a Workflow seen before it started (no phase) ready to run, or ends it (a
        # cluster's controller: what `argoexec run` does before it stores one).
        self.prepare = prepare
        # Artifact GC of a finished workflow (`loop.artgc`): changes it in place, True if it did.
        self.collect = collect
        # One Settings for every workflow, or each workflow's own (a run's options).
        self.settings = settings
        # Where `http` templates' requests run (Argo's agent): threads of this process unless
        # told otherwise (a cluster's WorkflowTaskSets and agent pods).
        if tasks is None:
            from .tasks import ThreadTasks

            tasks = ThreadTasks()
        self.tasks: TaskBackend = tasks
        # Whether this controller may drive a workflow (another one may hold it): the per-run
        # leader election of a controller shared by several processes.
        self.claim = claim
        self.release = release  # told when this controller no longer drives a workflow
        self.clock = clock
        self.write_interval = write_interval
        self.on_events = on_events
        self.on_stored = on_stored
        self.runs: dict[str, _Run] = {}
        self.swept: set[str] = set()  # finished workflows passed over for their pods
        self.passes = 0
        self.writes = 0
        self._poked = True  # a pod event since the last round (or not known)
        self._told: set[str] = set()

    # --- the loop -----------------------------------------------------------------------

    def drive(
        self,
        names: Iterable[str] | None = None,
        *,
        until_done: bool = True,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        """Reconcile `names` (every unfinished workflow of the store if None) until each is
        finished (`until_done`) or `stopping()` says so."""
        wanted = set(names) if names is not None else None
        self._load(wanted)
        while not stopping():
            self.round()
            if until_done and not self.runs:
                return
            self._wait()
            if wanted is None:
                self._load(None)

    def round(self) -> None:
        """One pass over each workflow being driven."""
        for name in list(self.runs):
            run = self.runs[name]
            self._resync(name, run)
            if name not in self.runs:
                continue
            outcome = self._pass(run) if self._due(run) else None
            done = finished(run.workflow)
            if done and self.collect is not None and self.collect(name, run.workflow):
                run.dirty = True
            now = time.monotonic()
            if run.dirty and (done or now - run.written_at >= self.write_interval):
                self._store(name, run)
            if outcome is not None and outcome.wake_at is not None:
                run.wake_at = outcome.wake_at
            # A finished workflow is let go once stored, its pods deleted, no deletion
            # waits for its time (podGC's deleteDelayDuration) and no artifact GC is under way.
            idle = not run.dirty and not run.deletes and run.wake_at is None
            if done and idle and not self._collecting(run.workflow):
                self._drop(name)

    def _collecting(self, workflow: Mapping[str, Any]) -> bool:
        """Artifact GC still has work for the workflow (GC pods running, or it is deleted)."""
        return self.collect is not None and artgc.pending(workflow)

    def _due(self, run: _Run) -> bool:
        """Whether a pass may find something to do: the last one did something, a pod event
        came, the time it asked for is here, or the safety-net interval is over. (A pass over
        unchanged input changes nothing: the reconciler is deterministic, and asks for the
        times it must be called at.)"""
        if not run.settled or self._poked:
            return True
        if run.wake_at is not None and self.clock() >= run.wake_at:
            return True
        return time.monotonic() - run.passed_at >= SETTLED_PASS_INTERVAL

    def backend(self, name: str) -> PodBackend:
        """The pods of workflow `name`."""
        return self.pods.of(name)

    def _pass(self, run: _Run) -> Outcome:
        name = self.key(run.workflow)
        pods = self.backend(name)
        settings = self.settings(name) if callable(self.settings) else self.settings
        observed = Observed(
            pods=pods.observe(name),
            tasks=self.tasks.observe(name),
            caches=self.caches.view(settings.namespace),
        )
        outcome = reconcile(run.workflow, observed, self.clock(), settings)
        self.passes += 1
        run.wake_at = None
        run.passed_at = time.monotonic()
        run.settled = not outcome.changed and not outcome.actions
        run.dirty = run.dirty or outcome.changed
        for action in outcome.actions:
            if isinstance(action, CreatePod):
                pod = pods.adapt(action.pod, action.template)
                pods.create(pod, action.config_maps)
            elif isinstance(action, SignalContainer):
                pods.signal(action.pod_name, action.container, action.signum)
            elif isinstance(action, DeletePod) and action.pod_name not in run.deletes:
                run.deletes.append(action.pod_name)
            elif isinstance(action, RunTask):
                self.tasks.run(name, run.workflow, action.node_id, action.template)
            elif isinstance(action, SaveCacheEntry):
                self._save(name, action)
        if outcome.finished or finished(run.workflow):
            self.tasks.release(name)
        if not run.dirty:
            self._delete(name, run)
        if self.on_events is not None and (outcome.events or outcome.started):
            self.on_events(name, outcome)
        return outcome

    def _save(self, name: str, action: SaveCacheEntry) -> None:
        """Save a memoization cache entry. One that fails is asked for again by the next
        pass (the reconciler asks until the cache holds it; a hit's lastHitTimestamp is not
        asked for again): said once."""
        try:
            self.caches.save(
                action.namespace, action.config_map, action.key, action.entry, hit=action.hit
            )
        except Exception as exc:  # where caches live failed (a full disk, the API server)
            what = f"workflow {name}: memoization cache {action.config_map}: {exc}"
            if what not in self._told:
                self._told.add(what)
                again = "not moved on" if action.hit else "asked for again at the next pass"
                log.warning("%s; the entry is %s", what, again)

    def _store(self, name: str, run: _Run) -> None:
        for _ in range(MAX_REAPPLY):
            try:
                stored = self.store.update(run.workflow)
                break
            except ConflictError:
                if not self._reapply(name, run):
                    return
            except Exception as exc:  # where Workflows live failed (a full disk): said once
                if finished(run.workflow):
                    raise FinalWriteError(run.workflow, str(exc)) from exc
                if str(exc) not in self._told:
                    self._told.add(str(exc))
                    log.warning(
                        "%s; the run goes on, the state is written again at the next change", exc
                    )
                return
        else:
            return  # tried again and again: the next round starts from what it reads
        self.writes += 1
        run.base = clone(stored)
        run.workflow = stored
        run.dirty = False
        run.written_at = time.monotonic()
        self._delete(name, run)
        if self.on_stored is not None:
            # The stored state as `base` keeps it, which nothing changes in place (the next
            # pass changes `run.workflow`): a reader in another thread may copy it meanwhile.
            self.on_stored(run.base)

    def refresh(self, name: str) -> None:
        """Read `name` again before its next pass (it was changed from outside)."""
        run = self.runs.get(name)
        if run is not None:
            run.read_at = 0.0

    def _reapply(self, name: str, run: _Run) -> bool:
        """Changed from outside since it was read (a stop, a resume): this controller's
        changes are made again on the newest object (Argo's reapplyUpdate), unless that one is
        completed, which is never changed again. False if there is nothing to store."""
        log.debug("workflow %s changed meanwhile: applying this pass's changes again", name)
        latest = self.store.get(name)
        run.read_at = time.monotonic()
        if finished(latest):
            run.workflow, run.base, run.dirty = latest, clone(latest), False
            return False
        changes = diff(run.base, run.workflow)
        run.base = clone(latest)
        run.workflow = apply(latest, changes)
        run.settled = False  # what changed outside is acted on at the next pass
        return True

    def _delete(self, name: str, run: _Run) -> None:
        if not run.deletes:
            return
        pods = self.backend(name)
        for pod in run.deletes:
            pods.delete(pod)
        run.deletes.clear()

    def _resync(self, name: str, run: _Run) -> None:
        """Take changes made from outside (`spec.shutdown`, a resumed node) now and then."""
        if time.monotonic() - run.read_at < RESYNC_INTERVAL:
            return
        run.read_at = time.monotonic()
        try:
            stored = self.store.get(name)
        except NotFoundError:
            self._drop(name)  # deleted: nothing more to do for it
            return
        version = stored["metadata"].get("resourceVersion")
        if version != run.workflow["metadata"].get("resourceVersion"):
            changes = diff(run.base, run.workflow) if run.dirty else {}
            run.base = clone(stored)
            run.workflow = apply(stored, changes)
            run.settled = False

    def _load(self, wanted: set[str] | None) -> None:
        for workflow in self.store.list():
            name = self.key(workflow)
            if name in self.runs or (wanted is not None and name not in wanted):
                continue
            done = finished(workflow)
            if done and name in self.swept and not self._collecting(workflow):
                continue
            if self.claim is not None and not self.claim(name):
                continue
            if done:  # one pass deletes the pods left (the reconciler collects them all)
                self.swept.add(name)
            # A copy: a store may list the objects it keeps (a cluster's cache), and a pass
            # changes its workflow in place.
            run = _Run(clone(workflow), base=clone(workflow), read_at=time.monotonic())
            if self.prepare is not None and not (workflow.get("status") or {}).get("phase"):
                run.workflow, run.dirty = self.prepare(run.workflow), True
            self.runs[name] = run

    def _drop(self, name: str) -> None:
        del self.runs[name]
        if self.release is not None:
            self.release(name)

    def _wait(self) -> None:
        timeout = IDLE_WAIT
        now = self.clock()
        for run in self.runs.values():
            if run.dirty:
                timeout = min(timeout, max(0.0, self.write_interval))
            if run.wake_at is not None:
                timeout = min(timeout, max(0.0, run.wake_at - now))
        self._poked = self.pods.wait(timeout) if timeout > 0 else True


__all__ = ["Controller", "Event", "finished"]
