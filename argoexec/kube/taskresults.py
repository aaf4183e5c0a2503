"""The Kubernetes result sink: the node's ``WorkflowTaskResult`` (argo-contract.md §4.6).

The controller watches ``argoproj.io/v1alpha1`` ``workflowtaskresults`` named after the node ID
and labelled with the workflow (and the controller instance ID, when there is one); it treats the
outputs as final only once ``workflows.argoproj.io/report-outputs-completed`` is ``"true"``.

* ``initialize`` creates the object with the label ``"false"`` (``AlreadyExists`` is fine).
* ``report`` merge-patches a result's fields (a ``NodeResult``'s JSON: ``outputs``, ``progress``);
  ``NotFound`` → create (the first write is always a create; ``AlreadyExists`` → merge patch).
* ``finalize`` merge-patches the completed label to ``"true"``. Should the object be missing, it
  is created complete with the last reported result so the node is not left waiting.

Only transient errors (§10.1) are retried: backoff 1 s, factor 2, jitter 0.2 (0.1 for initialize and
finalize), cap 30 s, for as long as the sink's own ``timeout`` allows. The sink waits on its own
:class:`Stop` token, never the process's SIGTERM token: a terminating pod must still report.
Writes are idempotent — the object name is fixed, so a retried create can only meet
``AlreadyExists`` and fall back to a patch, never make a second object.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from argoexec import contract as c
from argoexec.kube.client import MERGE_PATCH, KubeClient, resource_path
from argoexec.kube.errors import (
    KubeAlreadyExistsError,
    KubeError,
    KubeForbiddenError,
    KubeNotFoundError,
    is_transient,
)
from argoexec.lifecycle import Stop
from argoexec.retry import Backoff

log = logging.getLogger("argoexec.kube")
T = TypeVar("T")

PLURAL, KIND = "workflowtaskresults", "WorkflowTaskResult"
RBAC_DOCS = "https://argo-workflows.readthedocs.io/en/latest/workflow-rbac/"

# §10.1 "task result" backoff; steps are bounded by the sink's timeout instead.
REPORT_BACKOFF = Backoff(steps=0, duration=1.0, factor=2.0, jitter=0.2, cap=30.0)
FINALIZE_JITTER = 0.1
DEFAULT_TIMEOUT = 300.0  # seconds for one write, retries included
MIN_REQUEST_TIMEOUT = 0.1  # seconds: the last attempt before the deadline still gets a chance


class TaskResultError(Exception):
    """A ``WorkflowTaskResult`` write failed for good; ``cause`` is the last API error."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class KubeResultSink:
    """A ``ResultSink`` (``argoexec.executor.sinks``) writing the node's ``WorkflowTaskResult``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        name: str,
        namespace: str,
        workflow_name: str,
        workflow_uid: str,
        instance_id: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        backoff: Backoff = REPORT_BACKOFF,
        transient_pattern: str | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.name = name
        self.namespace = namespace
        self.workflow_name = workflow_name
        self.workflow_uid = workflow_uid
        self.instance_id = instance_id
        self.timeout = timeout
        self.backoff = backoff
        self.transient_pattern = transient_pattern
        # Ours alone: set it to abandon reporting (e.g. a hard deadline). SIGTERM never does.
        self.stop = Stop()
        self._rand = rand
        self._created = False
        self._deadline = 0.0
        self._reported: dict[str, Any] = {}

    # --- ResultSink ------------------------------------------------------------------------

    def initialize(self) -> None:
        self._retry("create", self._upsert, {}, jitter=FINALIZE_JITTER)

    def report(self, result: dict[str, Any]) -> None:
        fields = dict(result)
        self._reported.update(fields)
        self._retry("patch", self._upsert, fields, jitter=self.backoff.jitter)

    def finalize(self) -> None:
        self._retry("patch", self._complete, {}, jitter=FINALIZE_JITTER)

    # --- the writes --------------------------------------------------------------------------

    def body(self, result: dict[str, Any], *, completed: bool = False) -> dict[str, Any]:
        """The object as first created (§4.6); result fields sit at the top level."""
        labels = {
            c.LABEL_WORKFLOW: self.workflow_name,
            c.LABEL_REPORT_OUTPUTS_COMPLETED: "true" if completed else "false",
        }
        if self.instance_id:
            labels[c.LABEL_INSTANCE_ID] = self.instance_id
        owner = {
            "apiVersion": c.API_VERSION,
            "kind": "Workflow",
            "name": self.workflow_name,
            "uid": self.workflow_uid,
        }
        metadata = {"name": self.name, "labels": labels, "ownerReferences": [owner]}
        return {"apiVersion": c.API_VERSION, "kind": KIND, "metadata": metadata, **result}

    def _path(self, name: str | None = None) -> str:
        return resource_path(
            c.API_GROUP, c.API_GROUP_VERSION, PLURAL, namespace=self.namespace, name=name
        )

    def _request_timeout(self) -> float:
        """One request never outlives the write's deadline (a hung API server included)."""
        remaining = self._deadline - time.monotonic()
        return max(MIN_REQUEST_TIMEOUT, min(self.client.config.timeout, remaining))

    def _create(self, result: dict[str, Any], *, completed: bool = False) -> None:
        body = self.body(result, completed=completed)
        self.client.request("POST", self._path(), body=body, timeout=self._request_timeout())
        self._created = True

    def _patch(self, patch: dict[str, Any]) -> None:
        self.client.request(
            "PATCH",
            self._path(self.name),
            body=patch,
            content_type=MERGE_PATCH,
            timeout=self._request_timeout(),
        )
        self._created = True

    def _upsert(self, fields: dict[str, Any]) -> None:
        if not self._created:
            try:
                self._create(fields)
                return
            except KubeAlreadyExistsError:
                if not fields:
                    self._created = True
                    return
        try:
            self._patch(fields)
        except KubeNotFoundError:
            # Our object is gone (or never made it): create it. A 404 on the create itself means
            # the type or namespace is missing and surfaces as an error.
            self._created = False
            self._create(fields)

    def _complete(self, _: dict[str, Any]) -> None:
        try:
            self._patch({"metadata": {"labels": {c.LABEL_REPORT_OUTPUTS_COMPLETED: "true"}}})
        except KubeNotFoundError:
            self._created = False
            self._create(self._reported, completed=True)

    # --- retries -----------------------------------------------------------------------------

    def _retry(
        self,
        verb: str,
        write: Callable[[dict[str, Any]], None],
        fields: dict[str, Any],
        *,
        jitter: float,
    ) -> None:
        deadline = self._deadline = time.monotonic() + self.timeout
        delay, attempt = self.backoff.duration, 0
        last: KubeError | None = None
        while not self.stop.is_set():
            attempt += 1
            try:
                write(fields)
                return
            except KubeError as exc:
                last = exc
            if not is_transient(last, self.transient_pattern):
                raise self._final_error(verb, last) from last
            pause = min(delay, self.backoff.cap or delay) * (1.0 + jitter * self._rand())
            if deadline - time.monotonic() <= pause:
                raise self._gave_up(
                    verb, f"at its {self.timeout:g}s timeout", attempt, last
                ) from last
            log.warning(
                "%s failed (attempt %d), retrying in %.1fs: %s",
                self._what(verb),
                attempt,
                pause,
                last,
                extra={"taskResult": f"{self.namespace}/{self.name}"},
            )
            self.stop.wait(pause)
            delay *= self.backoff.factor
        raise self._gave_up(verb, f"stopped ({self.stop.reason})", attempt, last)

    def _what(self, verb: str) -> str:
        return f"cannot {verb} {KIND} {self.namespace}/{self.name}"

    def _gave_up(
        self, verb: str, why: str, attempts: int, last: KubeError | None
    ) -> TaskResultError:
        message = f"{self._what(verb)}: gave up {why} after {attempts} attempts"
        if last is not None:
            message += f": {last.reason or 'error'}: {last}"
        return TaskResultError(message, last)

    def _final_error(self, verb: str, exc: KubeError) -> TaskResultError:
        message = f"{self._what(verb)}: {exc.reason or 'error'}: {exc}"
        rbac = (
            f"the pod's service account needs the 'create' and 'patch' verbs on '{PLURAL}' "
            f"(API group '{c.API_GROUP}') in namespace '{self.namespace}', see {RBAC_DOCS}"
        )
        if isinstance(exc, KubeForbiddenError):
            message += f"; {rbac}"
        elif isinstance(exc, KubeNotFoundError):
            message += f"; the {KIND} CRD must be installed and {rbac}"
        return TaskResultError(message, exc)
