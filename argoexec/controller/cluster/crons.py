"""CronWorkflows on a cluster, and `ttlStrategy`: what Argo's cron controller and TTL controller
do, by the leading `argoexec controller`.

CronWorkflows come from an informer (the controller's instance id selects them, as Workflows);
once a second (`tick`, from the loop's rounds) each is planned (`argoexec.controller.cron.plan`)
against the Workflows labelled with its name: a Workflow due is created through the API (named
`<cron>-<unix time>`, owned by the CronWorkflow: deleting the cron deletes its runs), active
ones are terminated for `concurrencyPolicy: Replace` (`spec.shutdown`, as `argo terminate`),
runs past the history limits deleted, and the cron's `status` (and the `cron-workflow-completed`
label a stopStrategy sets) written with a merge PATCH, as Argo's persistUpdate. Finished
Workflows whose `ttlStrategy` is over are deleted (their pods and task results go with them:
owner references). The slots already decided are kept in memory; a new leader starts from the
crons' `status.lastScheduledTime` (a missed slot runs only within `startingDeadlineSeconds`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from argoexec import contract as c
from argoexec.controller.cron.plan import children_of, plan, submission_failed, submitted
from argoexec.controller.cron.ttl import expires_at
from argoexec.controller.loop import control as ctl
from argoexec.controller.loop.control_base import ControlError
from argoexec.controller.loop.seams import AlreadyExistsError, NotFoundError
from argoexec.kube.client import resource_path
from argoexec.kube.errors import KubeError

from .api import ClusterApi
from .informer import Informer
from .store import ClusterWorkflowStore, instance_selector, workflow_key

log = logging.getLogger("argoexec.controller")
TICK_INTERVAL = 1.0  # seconds between two scheduling passes


def crons_path(namespace: str | None = None, name: str | None = None) -> str:
    return resource_path(
        c.API_GROUP, c.API_GROUP_VERSION, "cronworkflows", namespace=namespace, name=name
    )


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch from `old` to `new` of `status` and `metadata.labels` (a key gone is
    written as null: a merge patch removes only what it names)."""
    patch: dict[str, Any] = {}
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    if old_status != new_status:
        patch["status"] = {**{k: None for k in old_status}, **new_status}
    old_labels = (old.get("metadata") or {}).get("labels") or {}
    new_labels = (new.get("metadata") or {}).get("labels") or {}
    if old_labels != new_labels:
        patch["metadata"] = {"labels": {**{k: None for k in old_labels}, **new_labels}}
    return patch


class ClusterCrons:
    def __init__(
        self,
        api: ClusterApi,
        store: ClusterWorkflowStore,
        *,
        namespace: str | None,
        instance_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.store = store
        self.clock = clock
        self.informer = Informer(
            api,
            crons_path(namespace),
            label_selector=instance_selector(instance_id),
            resync=60.0,
            what="cronworkflows",
        )
        self.considered: dict[str, float] = {}  # by `namespace/name`
        self._ticked = 0.0
        self._deleted: set[str] = set()  # TTL deletions asked for (the cache may lag)

    def start(self) -> None:
        self.informer.start()

    def wait_synced(self, timeout: float) -> bool:
        return self.informer.wait_synced(timeout)

    def stop(self) -> None:
        self.informer.stop()

    def tick(self) -> None:
        """A pass over every CronWorkflow and the finished Workflows' TTLs (at most once a
        second: the slots are whole minutes, or seconds with `@every`)."""
        if time.monotonic() - self._ticked < TICK_INTERVAL:
            return
        self._ticked = time.monotonic()
        now = self.clock()
        workflows = self.store.list()
        for cron in self.informer.items():
            try:
                self._pass(cron, workflows, now)
            except KubeError as exc:  # the next tick tries again from what it reads
                log.warning("CronWorkflow %s: %s", workflow_key(cron), exc)
        self._expire(workflows, now)

    def _pass(self, cron: dict[str, Any], workflows: list[dict[str, Any]], now: float) -> None:
        key = workflow_key(cron)
        namespace, name = key.split("/", 1)
        mine = [wf for wf in workflows if workflow_key(wf).startswith(f"{namespace}/")]
        result = plan(cron, children_of(name, mine), now=now, considered=self.considered.get(key))
        self.considered[key] = result.considered
        for child in result.terminate:
            with contextlib.suppress(NotFoundError, ControlError):
                ctl.change(self.store, f"{namespace}/{child}", ctl.terminate)
        updated = result.cron
        if result.create is not None and result.slot is not None:
            try:
                created = self.store.create(result.create)
                updated = submitted(updated, created, result.slot)
                log.info("CronWorkflow %s: created workflow %s", key, created["metadata"]["name"])
            except AlreadyExistsError:
                pass  # created before a restart: the slot is not run twice (as Argo)
            except KubeError as exc:
                updated = submission_failed(updated, str(exc))
        patch = status_patch(cron, updated)
        if patch:
            self.informer.put(self.api.merge_patch(crons_path(namespace, name), patch))
        for child in result.delete:
            with contextlib.suppress(NotFoundError):
                self.store.delete(f"{namespace}/{child}")
                log.info("deleted workflow %s/%s: CronWorkflow %s's history limit", namespace,
                         child, name)  # fmt: skip

    def _expire(self, workflows: list[dict[str, Any]], now: float) -> None:
        """Argo's TTL controller: a finished Workflow is deleted once its ttlStrategy is over."""
        present = {workflow_key(wf) for wf in workflows}
        self._deleted &= present
        for workflow in workflows:
            key = workflow_key(workflow)
            at = expires_at(workflow)
            if at is None or at > now or key in self._deleted:
                continue
            with contextlib.suppress(NotFoundError):
                self.store.delete(key)
                log.info("deleted workflow %s: its ttlStrategy is over", key)
            self._deleted.add(key)
