"""Pod kinds (container, script, resource, containerSet): a Pod node and its pod.

Each pass, from what is observed of the node's pod (by node id):
- no pod yet, node Pending: wait for a slot (the workflow's `parallelism`, the machine's cap),
  then build Argo's pod and ask for it (`CreatePod`; asking again is harmless, so a controller
  that died between creating a pod and storing the status does not create it twice);
- the pod runs: the node is Running; a shutdown or deadline signals its containers; a daemon's
  pod whose containers are all ready makes the node daemoned (`daemon`);
- the pod ended: its phase and the executor's result become the node's (`podresult`, Argo's
  inferFailedReason), and global outputs are exported;
- the pod of a Running node is gone: the node is an Error "pod deleted", as Argo's.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from argoexec.contract import MAX_PODS_HINT
from argoexec.controller.engine.substitute import SubstitutionError, substitute
from argoexec.controller.expr import ExpressionError
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.pod import PodBuildError, PodContext, build_pod_objects
from argoexec.controller.runtime import status as st
from argoexec.controller.runtime.mains import LOST_MAIN
from argoexec.models import Template

from . import daemon
from . import nodes as n
from .actions import CreatePod, SignalContainer
from .antiaffinity import retry_fail_hosts
from .context import Pass, Run, Visit
from .errors import NodeError
from .outputs import export_globals
from .podresult import interpret, oversized_parameters
from .walk import substituted

POD_DELETED = "pod deleted"
LOCALHOST = "localhost"  # the hostNodeName of a pod run on this machine (no nodes)
RESIGNAL_SECONDS = 1.0
EXECUTOR_SLACK = 1.0


def advance_pod(p: Pass, run: Run) -> Visit:
    node = run.node
    observed = p.pods.get(node["id"])
    if observed is not None and observed.status.phase in (st.SUCCEEDED, st.FAILED):
        return Visit(_conclude(p, run, observed))
    if observed is not None and node["phase"] != n.PENDING:
        # As in Argo, a running pod's template `timeout` is enforced by the pod itself (its
        # activeDeadlineSeconds, and the executor's ARGO_DEADLINE behind it), never by the
        # controller: the pod ends with the kubelet's deadline message. A shutdown and the
        # workflow's deadline stop it from here.
        reason = p.stopping(on_exit=run.frame.on_exit)
    else:
        reason = p.halted(run.frame)
    if observed is None:
        if reason is not None:  # not started, or deleted by the stop: stopped either way
            p.nodes.finish(node, n.FAILED, reason, now=p.now)
            return Visit(node)
        if node["phase"] == n.RUNNING:
            p.nodes.finish(node, n.ERROR, POD_DELETED, now=p.now)
            return Visit(node)
        _create(p, run)
        return Visit(node)
    if reason is not None:
        _terminate(p, run, observed, reason)
    elif run.template.get("daemon") is True and daemon.ready(observed):
        daemon.become_daemoned(p, node, observed, observed.status.node_name or LOCALHOST)
    elif observed.status.phase == st.RUNNING and node["phase"] == n.PENDING:
        host = observed.status.node_name or LOCALHOST
        p.nodes.set(node, phase=n.RUNNING, message=None, hostNodeName=host)
    return Visit(node)


def _slot_message(p: Pass) -> str:
    """Why no pod may start now ("" if one may): Argo's workflow `parallelism` and this
    machine's cap on pods running at once."""
    parallelism = p.spec.get("parallelism")
    if parallelism and p.active_pods >= int(parallelism):
        return f"Waiting for a pod slot: the workflow's parallelism ({parallelism}) is reached"
    cap = p.settings.max_pods
    if cap and p.active_pods >= cap:
        return (
            f"Waiting for a pod slot: {cap} pods already run, the most this run starts at once "
            f"({MAX_PODS_HINT})"
        )
    return ""


def _create(p: Pass, run: Run) -> None:
    if run.node["id"] not in p.nodes.map:
        return  # a node of a suspended workflow, not kept: nothing starts
    waiting = _slot_message(p)
    if waiting:
        p.nodes.set(run.node, message=waiting)
        return
    pod, config_maps, body = build(p, run)
    p.actions.append(CreatePod(run.node["id"], pod, config_maps, body))
    p.active_pods += 1
    p.nodes.set(run.node, message=None)


def _when(moment: float | None) -> datetime | None:
    return datetime.fromtimestamp(moment, UTC) if moment is not None else None


def build(p: Pass, run: Run) -> tuple[dict[str, Any], dict[str, dict[str, str]], dict[str, Any]]:
    """Argo's pod for the node, complete (what the runtime adds it adds itself), the ConfigMaps
    it needs, and the substituted template it runs."""
    template = run.template
    where = f"template {template.get('name')!r}"
    if run.kind == "resource" and not p.settings.kubernetes_api:
        raise NodeError(
            f"{where} is a resource template and needs a Kubernetes API: no kubeconfig was "
            "given (--kubeconfig or KUBECONFIG)"
        )
    body = substituted(run)
    try:
        context = _context(p, run, body)
        patch = p.spec.get("podSpecPatch")
        if patch:  # Argo substitutes it with the template's variables, as the template's own
            text = substitute(str(patch), run.scope, allow_unresolved=False,
                              location="spec.podSpecPatch")  # fmt: skip
            context = replace(context, workflow_spec={**p.spec, "podSpecPatch": text})
        objects = build_pod_objects(Template.model_validate(body), context)
    except (SubstitutionError, ExpressionError) as exc:
        raise NodeError(str(exc)) from None
    except (PodBuildError, ValueError) as exc:
        raise NodeError(f"{where}: {exc}") from None
    config_maps: dict[str, dict[str, str]] = {}
    if objects.config_map is not None:
        cm = objects.config_map
        config_maps[str(cm["metadata"]["name"])] = dict(cm.get("data") or {})
    # The template as the pod runs it (its archive location filled in from the repository).
    return objects.pod, config_maps, objects.template.to_wire()


def _context(p: Pass, run: Run, body: Mapping[str, Any]) -> PodContext:
    claims = [
        {"name": name, "persistentVolumeClaim": {"claimName": f"{p.name}-{name}"}}
        for name in (
            (v.get("metadata") or {}).get("name") for v in p.spec.get("volumeClaimTemplates") or []
        )
    ]
    settings = p.settings
    return PodContext(
        workflow_name=p.name,
        node_name=run.node["name"],
        workflow_uid=p.uid,
        namespace=settings.namespace,
        node_id=run.node["id"],
        template_name=str(body.get("name") or ""),
        workflow_spec=p.spec,
        persistent_volume_claims=claims,
        executor_image=settings.executor_image,
        executor_image_pull_policy=settings.executor_image_pull_policy,
        executor_resources=settings.executor_resources,
        executor_security_context=settings.executor_security_context,
        instance_id=settings.instance_id,
        executor_env=[{"name": k, "value": v} for k, v in settings.executor_env],
        log_level=settings.log_level,
        include_script_output=True,
        on_exit=run.frame.on_exit,
        # The executor's own deadline (ARGO_DEADLINE) is a backstop a second after the pod's
        # activeDeadlineSeconds: the kubelet's ends the pod first, with its message.
        deadline=_when(run.frame.deadline + EXECUTOR_SLACK if run.frame.deadline else None),
        workflow_deadline=_when(p.deadline),
        template_deadline=_when(run.frame.deadline),
        artifact_repository=settings.artifact_repository,
        variables=dict(run.scope),
        now=_when(p.now),
        images=settings.images,
        retry_fail_hosts=retry_fail_hosts(p, run.node),
    )


def _terminate(p: Pass, run: Run, observed: PodObservation, reason: str) -> None:
    """Ask the pod's running containers to end (SIGTERM, as Argo's shutdown); the node ends
    with `reason` once its pod has. Asked again on every pass (at least each second) while
    they run: a container whose process was just starting may not have taken the signal."""
    node = run.node
    p.nodes.set(node, message=reason)
    running = [c for c in observed.status.containers if c.running]
    for container in running:
        p.actions.append(SignalContainer(observed.pod_name, container.name, signal.SIGTERM))
    if running:
        p.wake(p.now + RESIGNAL_SECONDS)


def _mains(template: Mapping[str, Any]) -> list[str]:
    try:
        return Template.model_validate(template).main_containers()
    except ValueError:
        return ["main"]


def _conclude(p: Pass, run: Run, observed: PodObservation) -> n.Node:
    node = run.node
    if observed.result_error:  # the result is lost; the main containers' exit code is not
        codes = [c.exit_code for c in observed.status.containers if c.name in _mains(run.template)]
        code = next((c for c in codes if c not in (None, 0)), codes[-1] if codes else None)
        lost = {"outputs": {"exitCode": str(code)}} if code is not None else {}
        return p.nodes.finish(node, n.ERROR, observed.result_error, now=p.now, **lost)
    if observed.status.reason == LOST_MAIN:  # `wait` would have waited for it forever
        return p.nodes.finish(node, n.ERROR, observed.status.message, now=p.now)
    stopping = p.stopping(on_exit=run.frame.on_exit)
    if stopping is None and node["phase"] == n.PENDING:  # stopped still pending, past a timeout
        stopping = p.halted(run.frame)
    # A pod that did not succeed while the workflow stops was stopped.
    stopped = stopping if stopping and observed.status.phase != st.SUCCEEDED else ""
    outcome = interpret(observed.status, observed.result, _mains(run.template), stopped=stopped)
    too_large = oversized_parameters(outcome.outputs, p.settings.max_output_parameters_bytes)
    if too_large:
        return p.nodes.finish(node, n.ERROR, too_large, now=p.now)
    if outcome.phase == n.SUCCEEDED:
        export_globals(p, run.template, outcome.outputs)
        node.pop("message", None)
    fields: dict[str, Any] = {"hostNodeName": observed.status.node_name or LOCALHOST}
    if outcome.outputs:
        fields["outputs"] = outcome.outputs
    return p.nodes.finish(node, outcome.phase, outcome.message, now=p.now, **fields)
