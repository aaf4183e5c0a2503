"""The ``argoexec resource ACTION`` flow (argo-contract.md §6), without kubectl.

1. Create the task result (``report-outputs-completed: "false"``); it is marked completed at the
   end, success or not, unless logs are archived (then the wait container does it).
2. Stage ``resource.manifest`` to ``/tmp/manifest.yaml`` (unless ``manifestFrom``), read the
   manifest (``/tmp/manifest.yaml`` or the ``manifestFrom`` input artifact's path).
3. Check the request before touching the cluster: ``delete`` with conditions or outputs, an empty
   manifest without flags, unsupported flags, conditions that do not parse.
4. Perform the action (:mod:`.actions`), retrying transient API errors.
5. Except for ``delete``: the answered object needs a kind and a name; poll it every
   ``RESOURCE_STATE_CHECK_INTERVAL`` until a condition decides (:mod:`.conditions`).
6. Output parameters from the live object (:mod:`.outputs`), reported through the sink.

Choices where Argo's behaviour is surprising or kubectl-specific (the README copies this list):

* Conditions are parsed before the action, so a typo fails the step without side effects.
* Only a ``failureCondition``: the first poll that does not match it succeeds (Argo's quirk 5,
  kept: templates that only guard against failure rely on it). Failure requirements are OR-ed,
  success requirements AND-ed (quirk 6, kept).
* A manifest with several objects is acted on object by object (kubectl's order). Conditions and
  output parameters need exactly one object, so they are refused up front for several objects
  (Argo would act, then fail with "Kind and name are both required").
* ``manifestFrom`` naming an artifact that is not an input fails (Argo reads an empty file).
* ``setOwnerReference`` adds the workflow's controller reference (``ARGO_WORKFLOW_NAME``/``UID``)
  to every manifest object unless it is already there (the controller may have added it).
* ``get --ignore-not-found`` of a missing object succeeds without waiting; output parameters then
  take ``valueFrom.default`` (or empty).
* The self link polled for conditions uses the discovered plural (Argo guesses it from the kind,
  e.g. ``endpointses``).
* ``delete`` ignores a missing object (Argo always adds ``--ignore-not-found``;
  ``--ignore-not-found=false`` in flags turns that off) and, like ``kubectl delete``, waits until
  an object whose deletion is pending (finalizers) is gone, unless ``--wait=false``.
* Flags may name the object as ``<type> <name>`` or ``<type>/<name>`` for ``get``, ``delete`` and
  ``patch`` (kubectl type names: ``pod``, ``po``, ``pods``, ``workflows.argoproj.io``);
  ``create``, ``apply`` and ``replace`` take their objects from the manifest only.
* Failures read ``no more retries Error from server (<Reason>): error when <doing what>:
  <server message>`` — Argo's prefix followed by kubectl's wording.

kubectl behaviour not supported: client-side apply (``apply`` is always server-side apply with
field manager ``argo-executor`` and ``force=true``; ``--server-side=false`` is refused); actions
other than get, create, apply, replace, patch and delete (``label``, ``annotate``, ``scale``,
``rollout``, ``wait``, …); flags other than those in :mod:`.flags` (e.g. ``-l``/``--selector``,
``--all``, ``-f``, ``-o``, ``--type``, ``--overwrite``, ``--record``, ``--timeout``,
``--dry-run=client``); generators (``create configmap NAME --from-literal``); several objects named
in flags; ``replace --force``; JSONPath ``{range}…{end}``; kubectl's client-side schema
validation (``--validate`` maps to the server's ``fieldValidation``; by default the server
decides).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.resource import conditions
from argoexec.executor.resource.actions import CLIENT_GO_BACKOFF, Acted, ResourceActions
from argoexec.executor.resource.flags import ResourceFlags, parse_flags
from argoexec.executor.resource.identity import ResourceRef
from argoexec.executor.resource.manifest import (
    Manifest,
    manifest_path,
    owner_reference,
    read_manifest,
    stage_manifest,
    with_owner_reference,
)
from argoexec.executor.resource.outputs import resource_parameters
from argoexec.executor.sinks import ResultSink
from argoexec.kube.errors import KubeError, KubeNotFoundError, is_transient
from argoexec.kube.resources import PATCH_STRATEGIES, ResourceClient
from argoexec.lifecycle import Stop
from argoexec.models import NodeResult, Outputs, Parameter, ResourceTemplate, Template
from argoexec.retry import Backoff

log = logging.getLogger("argoexec.resource")

DELETED = (
    "The resource has been deleted while its status was still being checked. Will not be retried"
)


@dataclass
class ResourceJob:
    """Everything one ``argoexec resource ACTION`` run needs (injected for tests)."""

    action: str
    template: Template
    paths: PodPaths
    sink: ResultSink
    resources: ResourceClient
    workflow_name: str = ""
    workflow_uid: str = ""
    interval: float = 5.0  # RESOURCE_STATE_CHECK_INTERVAL, seconds
    stop: Stop = field(default_factory=Stop)
    backoff: Backoff = CLIENT_GO_BACKOFF
    transient_pattern: str | None = None
    rand: Callable[[], float] = random.random

    @property
    def resource(self) -> ResourceTemplate:
        assert self.template.resource is not None
        return self.template.resource

    def declared_parameters(self) -> list[Parameter]:
        outputs = self.template.outputs
        return list(outputs.parameters or []) if outputs else []


@dataclass
class _Request:
    flags: ResourceFlags
    manifest: Manifest
    success: list[conditions.Requirement]
    failure: list[conditions.Requirement]


def run_resource(job: ResourceJob) -> None:
    """Run the step; raises ``ExecutorError`` with every error (the first one first)."""
    if job.template.resource is None:
        raise ExecutorError("the template has no resource section")
    errors: list[str] = []
    _sink_step(errors, "failed to create the task result", job.sink.initialize)
    reported = True
    try:
        params = _perform(job)
        if params is not None:
            result = NodeResult(outputs=Outputs(parameters=params))
            reported = _sink_step(
                errors, "failed to report the outputs", lambda: job.sink.report(result.to_wire())
            )
    except ExecutorError as exc:
        errors.insert(0, str(exc))
    finally:
        # Argo defers FinalizeOutput: the controller must not wait for a result that a failed
        # step would never complete. But a result whose outputs could not be reported must
        # never claim completion (the same rule as wait).
        archive = job.template.archive_location
        if reported and not (archive and archive.archive_logs):
            _sink_step(errors, "failed to mark the task result completed", job.sink.finalize)
    if errors:
        raise ExecutorError("; ".join(errors))


def _sink_step(errors: list[str], what: str, fn: Callable[[], object]) -> bool:
    """Run one reporting step; a failure is recorded (the step's own outcome still matters,
    §6 step 2) and returns False."""
    try:
        fn()
    except Exception as exc:
        log.error("%s: %s", what, exc)
        errors.append(f"{what}: {exc}")
        return False
    return True


def _perform(job: ResourceJob) -> list[Parameter] | None:
    """Act, wait, compute the output parameters (``None``: none declared, nothing to report)."""
    request = _prepare(job)
    strategy = job.resource.merge_strategy or "strategic"
    actions = ResourceActions(
        job.resources,
        backoff=job.backoff,
        transient_pattern=job.transient_pattern,
        stop=job.stop,
        rand=job.rand,
    )
    acted = actions.run(job.action, request.manifest, request.flags, strategy)
    if job.action == "delete":
        return None
    for one in acted:
        _check_identity(one)
    target = acted[0] if len(acted) == 1 else None
    if target is not None and target.obj is not None and (request.success or request.failure):
        wait_for_conditions(job, target, request.success, request.failure)
    declared = job.declared_parameters()
    if not declared:
        return None
    live = _live(actions, target) if target is not None and target.obj is not None else None
    return resource_parameters(declared, live)


def _prepare(job: ResourceJob) -> _Request:
    """Every check that needs no API call; the manifest read and adjusted."""
    resource = job.resource
    has_outputs = bool(job.declared_parameters())
    if job.action == "delete" and (
        resource.success_condition or resource.failure_condition or has_outputs
    ):
        raise ExecutorError(
            "successCondition, failureCondition and outputs are not supported for delete action"
        )
    if job.action == "patch" and (resource.merge_strategy or "strategic") not in PATCH_STRATEGIES:
        raise ExecutorError(
            f"mergeStrategy must be one of {', '.join(PATCH_STRATEGIES)}, "
            f"was {resource.merge_strategy}"
        )
    stage_manifest(job.template, job.paths)
    flags = parse_flags(resource.flags)
    success = _parse_condition("success", resource.success_condition)
    failure = _parse_condition("fail", resource.failure_condition)
    manifest = read_manifest(manifest_path(job.template, job.paths))
    if manifest.empty and not flags.given:
        raise ExecutorError("Must provide at least one of flags or manifest.")
    if len(manifest.objects) > 1 and (success or failure or has_outputs):
        raise ExecutorError(
            f"the manifest holds {len(manifest.objects)} objects: successCondition, "
            "failureCondition and outputs need exactly one"
        )
    if resource.set_owner_reference and job.action in ("create", "apply", "replace", "patch"):
        owner = owner_reference(job.workflow_name, job.workflow_uid)
        manifest.documents = [
            with_owner_reference(d, owner) if isinstance(d, dict) and d.get("kind") else d
            for d in manifest.documents
        ]
    return _Request(flags, manifest, success, failure)


def _parse_condition(which: str, text: str | None) -> list[conditions.Requirement]:
    if not text:
        return []
    try:
        return conditions.parse(text)
    except conditions.ConditionError as exc:
        raise ExecutorError(f"{which} condition '{text}' failed to parse: {exc}") from exc


def _check_identity(acted: Acted) -> None:
    if acted.obj is None:  # get --ignore-not-found: nothing there
        log.info("no object found: %s %s/%s", acted.res.plural, acted.namespace, acted.name)
        return
    ref = ResourceRef.of(acted.obj)
    if not ref.kind or not ref.name:
        raise ExecutorError(
            "Kind and name are both required but at least one of them is missing from the manifest"
        )
    acted.name = ref.name  # generateName: the server picked it
    log.info(
        "Resource: %s/%s. SelfLink: %s",
        ref.namespace,
        ref.identity,
        acted.res.path(acted.namespace, ref.name),
    )


def wait_for_conditions(
    job: ResourceJob,
    target: Acted,
    success: list[conditions.Requirement],
    failure: list[conditions.Requirement],
) -> None:
    """Poll the object now and every ``job.interval`` until a condition decides."""
    self_link = target.res.path(target.namespace, target.name)
    while True:
        verdict = _check_state(job, self_link, success, failure)
        if verdict is not None and verdict.done:
            if verdict.failed:
                raise ExecutorError(verdict.message)
            log.info("%s: %s", self_link, verdict.message)
            return
        if verdict is not None:
            log.info("%s: %s", self_link, verdict.message)
        if job.stop.wait(job.interval):
            raise ExecutorError(f"stopped waiting for the resource conditions ({job.stop.reason})")


def _check_state(
    job: ResourceJob,
    self_link: str,
    success: list[conditions.Requirement],
    failure: list[conditions.Requirement],
) -> conditions.Verdict | None:
    """The verdict on the live object; ``None`` after a transient error (poll again)."""
    try:
        live = job.resources.get_path(self_link)
    except KubeNotFoundError as exc:
        raise ExecutorError(f"{DELETED}: {exc}") from exc
    except KubeError as exc:
        if is_transient(exc, job.transient_pattern):
            log.warning("checking %s failed, will retry: %s", self_link, exc)
            return None
        raise ExecutorError(f"failed to check the state of {self_link}: {exc}") from exc
    return conditions.evaluate(live, success, failure)


def _live(actions: ResourceActions, target: Acted) -> dict[str, Any] | None:
    """The object as it is now (``kubectl get``), for output parameters."""
    return actions.call(
        f'getting {target.res.plural} "{target.name}"',
        lambda: actions.resources.get(target.res, target.namespace, target.name),
    )
