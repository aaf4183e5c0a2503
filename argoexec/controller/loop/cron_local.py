"""CronWorkflows on this machine: kept in the state directory, scheduled by `argoexec controller`.

Each CronWorkflow is `STATE_DIR/.cronworkflows/<name>.json` (the document with its `status`,
replaced atomically) beside `<name>.run.json`, the options its runs get (`run.json` of each run,
as `argoexec run` would write it). The directory's name starts with a dot: no Kubernetes name
does, so no run's directory can take it.

`LocalScheduler.tick()` is one pass over every CronWorkflow (`argoexec.controller.cron.plan`)
and over the finished runs for `ttlStrategy`: it creates the runs due (named
`<cron>-<unix time>`) as Workflows of the state directory, which the controller's loop then
drives as any other; terminates the active ones for `concurrencyPolicy: Replace`; removes the
runs past the history limits and the TTL (as `argoexec delete`, never one a live process drives:
it is removed at a later pass). Only one process schedules a state directory's crons at a time
(a lock on `.cronworkflows/controller.lock`); a second controller drives runs but schedules
nothing while the first lives.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from argoexec.controller.cron.plan import children_of, plan, submission_failed, submitted
from argoexec.controller.cron.ttl import expires_at
from argoexec.controller.state import StateError, StateStore, check_name, write_atomic
from argoexec.controller.workflow.errors import DocumentError

from . import control as ctl
from .artgc import ArtifactGCError, collect_for_deletion
from .control_base import ControlError
from .local import RUN_FILE, RunConfig, RunLock, run_driver_context
from .options import EngineError
from .seams import AlreadyExistsError, NotFoundError
from .state_store import DirectoryStore

log = logging.getLogger("argoexec.controller")
CRON_DIR = ".cronworkflows"
_CONFIG_SUFFIX = ".run.json"
TTL_SCAN_INTERVAL = 1.0  # seconds between two looks at the finished runs' TTLs


class LocalCrons:
    """The CronWorkflows of a state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / CRON_DIR

    def _path(self, name: str) -> Path:
        check_name(name)
        return self.dir / f"{name}.json"

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(
            p.name[: -len(".json")]
            for p in self.dir.glob("*.json")
            if not p.name.endswith(_CONFIG_SUFFIX) and not p.name.startswith(".")
        )

    def get(self, name: str) -> dict[str, Any]:
        path = self._path(name)
        try:
            found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StateError(f"no CronWorkflow named {name!r} here") from None
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read CronWorkflow {path}: {exc}") from None
        return found

    def config(self, name: str) -> RunConfig:
        path = self.dir / f"{name}{_CONFIG_SUFFIX}"
        try:
            return RunConfig(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(f"cannot read the options of CronWorkflow {name!r}: {exc}") from None

    def put(self, cron: Mapping[str, Any], config: RunConfig | None = None) -> None:
        """Store `cron` (replacing the stored one), with its runs' options when given."""
        name = str((cron.get("metadata") or {}).get("name") or "")
        path = self._path(name)
        self.dir.mkdir(parents=True, exist_ok=True)
        if config is not None:
            write_atomic(self.dir / f"{name}{_CONFIG_SUFFIX}", config.text())
        write_atomic(path, json.dumps(dict(cron), indent=1, sort_keys=True) + "\n")

    def delete(self, name: str) -> None:
        path = self._path(name)
        if not path.exists():
            raise StateError(f"no CronWorkflow named {name!r} here")
        path.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{name}{_CONFIG_SUFFIX}").unlink()


def remove_run(root: Path, name: str) -> bool:
    """Remove a finished run as `argoexec delete` does (its artifacts under artifact GC
    deleted first: Argo's finalizer); False while a live process holds the run (it is tried
    again later). ArtifactGCError (the run kept) when an artifact cannot be deleted."""
    try:
        run = StateStore(root).open(name)
    except StateError:
        return True  # already gone
    lock = RunLock(run.path)
    if not lock.take():
        return False
    try:
        with contextlib.suppress(NotFoundError):
            collect_for_deletion(DirectoryStore(root), name, partial(run_driver_context, root))
        StateStore(root).remove(run)
    finally:
        lock.release()
    return True


class LocalScheduler:
    """Schedules the CronWorkflows of a state directory and applies `ttlStrategy` to its runs.
    `clock` gives the time slots are decided at (injected in tests: no waiting for minutes)."""

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.crons = LocalCrons(root)
        self.store = DirectoryStore(root)
        self.clock = clock
        self.considered: dict[str, float] = {}  # by cron: slots up to then were decided
        self._lock = RunLock(self.crons.dir)
        self._ttl_at = 0.0
        self._expiry: dict[str, tuple[str, float | None]] = {}  # run: (version token, expiry)
        self._told: set[str] = set()

    def tick(self) -> None:
        """One pass over every CronWorkflow, and (now and then) over the runs' TTLs. What fails
        (a document that cannot be read, a state directory that cannot be written) is said once
        per cause and tried again at the next tick: it never stops the controller's loop."""
        now = self.clock()
        try:
            names = self.crons.names()
            if names and self._scheduling():
                workflows = self.store.list()
                for name in names:
                    try:
                        self._pass(name, workflows, now)
                    except StateError as exc:
                        self._warn(f"CronWorkflow {name}: {exc}")
            if time.monotonic() - self._ttl_at >= TTL_SCAN_INTERVAL:
                self._ttl_at = time.monotonic()
                self._expire(now)
        except (StateError, OSError) as exc:
            self._warn(f"CronWorkflows and ttlStrategy of {self.root}: {exc}")

    def _remove(self, name: str) -> bool:
        try:
            return remove_run(self.root, name)
        except ArtifactGCError as exc:  # kept, and tried again at a later pass
            self._warn(f"workflow {name} kept: {exc}")
            return False

    def _warn(self, message: str) -> None:
        if message not in self._told:  # ticks come twice a second
            self._told.add(message)
            log.warning("%s", message)

    def _scheduling(self) -> bool:
        self.crons.dir.mkdir(parents=True, exist_ok=True)
        return self._lock.take()

    def close(self) -> None:
        self._lock.release()

    def _pass(self, name: str, workflows: list[dict[str, Any]], now: float) -> None:
        cron = self.crons.get(name)
        result = plan(
            cron, children_of(name, workflows), now=now, considered=self.considered.get(name)
        )
        self.considered[name] = result.considered
        for child in result.terminate:
            with contextlib.suppress(NotFoundError, ControlError):
                ctl.change(self.store, child, ctl.terminate)
        updated = result.cron
        if result.create is not None and result.slot is not None:
            updated = self._submit(name, updated, result.create, result.slot)
        if updated != cron:
            self.crons.put(updated)
        for child in result.delete:
            if self._remove(child):
                log.info("deleted workflow %s: CronWorkflow %s's history limit", child, name)

    def _submit(
        self, name: str, cron: dict[str, Any], workflow: dict[str, Any], slot: float
    ) -> dict[str, Any]:
        try:
            config = self.crons.config(name)
            created = self.store.create(
                ready_to_run(workflow, config), files={RUN_FILE: config.text()}
            )
        except AlreadyExistsError:
            return cron  # created before a restart: the slot is not run twice (as Argo)
        except (StateError, EngineError, DocumentError) as exc:
            log.warning("CronWorkflow %s: failed to submit a workflow: %s", name, exc)
            return submission_failed(cron, str(exc))
        log.info("CronWorkflow %s: submitted workflow %s", name, created["metadata"]["name"])
        return submitted(cron, created, slot)

    def _expire(self, now: float) -> None:
        """Remove the finished runs whose TTL is over (a run is read again only when its
        Workflow was written since)."""
        tokens = self.store.versions()
        self._expiry = {k: v for k, v in self._expiry.items() if k in tokens}
        for name, token in tokens.items():
            known = self._expiry.get(name)
            if known is None or known[0] != token:
                try:
                    known = (token, expires_at(self.store.get(name)))
                except (NotFoundError, StateError):
                    continue
                self._expiry[name] = known
            if known[1] is not None and known[1] <= now and self._remove(name):
                log.info("deleted workflow %s: its ttlStrategy is over", name)
                self._expiry.pop(name, None)


def ready_to_run(workflow: Mapping[str, Any], config: RunConfig) -> dict[str, Any]:
    """A cron's Workflow as `argoexec run` stores one: its WorkflowTemplate merged in, its
    arguments resolved, in the run's namespace, not started."""
    from argoexec.controller.workflow.documents import merge_workflow_template

    from .runner import check_entrypoint, resolve_workflow_arguments

    merged = merge_workflow_template(dict(workflow), config.template_store())
    spec = merged.setdefault("spec", {})
    options = config.options()
    parameters = resolve_workflow_arguments(spec, options)
    spec["arguments"] = {**(spec.get("arguments") or {}), "parameters": parameters}
    check_entrypoint(spec)
    merged.setdefault("metadata", {})["namespace"] = options.namespace
    merged["status"] = {}
    return merged
