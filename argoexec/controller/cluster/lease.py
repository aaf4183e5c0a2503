"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection: two
replicas never both act.

A candidate takes the Lease when it is free (no holder) or expired; expiry is judged by the
candidate's own clock from when it last saw the Lease change (client-go's rule: no trust in
another machine's clock). The leader renews every `retry_period`; one that cannot renew for
`renew_deadline` (< `lease_duration`) stops leading before anyone may take over. Every write
carries the resourceVersion read, so two candidates racing for one Lease cannot both win (one
gets 409). Stopping releases the Lease (an empty holder), so a successor need not wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argoexec.durations import rfc3339
from argoexec.kube.client import resource_path
from argoexec.kube.errors import KubeConflictError, KubeError, KubeNotFoundError

from .api import ClusterApi

log = logging.getLogger("argoexec.controller")

GROUP, VERSION = "coordination.k8s.io", "v1"


@dataclass(frozen=True)
class LeaseTimes:
    lease_duration: float = 15.0  # as Argo's controller (LEADER_ELECTION_LEASE_DURATION)
    renew_deadline: float = 10.0
    retry_period: float = 5.0


class LeaderElector:
    def __init__(
        self,
        api: ClusterApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        times: LeaseTimes = LeaseTimes(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.times = times
        self.clock = clock
        self.leading = threading.Event()
        self.lost = threading.Event()  # led, then could not renew
        self._observed: tuple[str, float] = ("", 0.0)  # (resourceVersion, when seen)
        self._renewed = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return resource_path(GROUP, VERSION, "leases", namespace=self.namespace, name=self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop trying; a leader releases the Lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.times.retry_period + 5)
        if self.leading.is_set():
            self.leading.clear()
            self._release()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.try_acquire_or_renew():
                self._renewed = self.clock()
                if not self.leading.is_set():
                    log.info("leading as %s (Lease %s/%s)", self.identity, self.namespace,
                             self.name)  # fmt: skip
                    self.leading.set()
            elif self.leading.is_set() and self._renew_overdue():
                log.error("lost the Lease %s/%s: could not renew it", self.namespace, self.name)
                self.leading.clear()
                self.lost.set()
                return
            self._stop.wait(self.times.retry_period)

    def _renew_overdue(self) -> bool:
        return self.clock() - self._renewed >= self.times.renew_deadline

    def _spec(self, lease: dict[str, Any] | None) -> dict[str, Any]:
        now = rfc3339(time.time(), precise=True)
        spec = dict((lease or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if lease else 0)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(self.times.lease_duration),
            renewTime=now,
        )
        return spec

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True if this candidate holds the Lease now."""
        try:
            lease = self.api.get(self.path)
        except KubeNotFoundError:
            lease = None
        except KubeError as exc:
            log.warning("Lease %s/%s: %s", self.namespace, self.name, exc)
            return False
        try:
            if lease is None:
                body = {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(None),
                }
                self._seen(self.api.create(self.path.rsplit("/", 1)[0], body))
                return True
            self._seen(lease)
            holder = (lease.get("spec") or {}).get("holderIdentity") or ""
            if holder and holder != self.identity and not self._expired(lease):
                return False
            self._seen(self.api.replace(self.path, {**lease, "spec": self._spec(lease)}))
            return True
        except KubeConflictError:
            return False  # another candidate wrote it first
        except KubeError as exc:
            log.warning("Lease %s/%s: %s", self.namespace, self.name, exc)
            return False

    def _seen(self, lease: dict[str, Any]) -> None:
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        if version != self._observed[0]:
            self._observed = (version, self.clock())

    def _expired(self, lease: dict[str, Any]) -> bool:
        duration = float((lease.get("spec") or {}).get("leaseDurationSeconds") or 0)
        return self.clock() - self._observed[1] > duration

    def _release(self) -> None:
        try:
            lease = self.api.get(self.path)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
            self.api.replace(self.path, {**lease, "spec": spec})
        except KubeError as exc:
            log.info("Lease %s/%s not released: %s", self.namespace, self.name, exc)
