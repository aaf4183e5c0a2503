"""Executing one node: resolve its template, retry it, resolve its inputs, and run it by kind
(pod, steps, DAG, suspend). Steps and DAGs call back into `execute` for their children."""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from argoexec.contract import KUBECONFIG_IN_POD, KUBECONFIG_VOLUME, MAIN_CONTAINER
from argoexec.controller.expr import ExpressionError
from argoexec.controller.pod import PodBuildError, PodContext, pod_name
from argoexec.controller.workflow.errors import DocumentError
from argoexec.durations import parse_go_duration
from argoexec.lifecycle import Stop
from argoexec.models import Template

from . import nodes as n
from . import pods
from .context import DEADLINE_MESSAGE, Frame, Owner, RunState
from .guard import internal_error
from .io import InputError, resolve_input_artifacts, resolve_parameters
from .nodes import Node
from .scope import Scope, parameter_text
from .substitute import ArgumentError, SubstitutionError, substitute

KINDS = ("container", "script", "resource", "containerSet", "steps", "dag", "suspend")
NODE_TYPES = {"steps": n.STEPS, "dag": n.DAG, "suspend": n.SUSPEND}
_RESOLVE_ERRORS = (ArgumentError, SubstitutionError, ExpressionError, InputError, ValueError)


class TemplateError(Exception):
    pass


def seconds(text: str) -> float:
    """A duration as Argo accepts it: plain seconds (`20`) or a Go duration (`1m30s`)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return parse_go_duration(text)


def template_kind(template: Mapping[str, Any]) -> str:
    if template.get("daemon"):
        raise TemplateError(
            f"template {template.get('name')!r}: daemon templates are not supported by the thin "
            "controller (the step would never end)"
        )
    for kind in KINDS:
        if template.get(kind) is not None:
            return kind
    unsupported = [k for k in ("http", "plugin", "data") if template.get(k) is not None]
    if unsupported:
        raise TemplateError(
            f"template {template.get('name')!r}: {unsupported[0]} templates are not supported "
            "by the thin controller"
        )
    raise TemplateError(f"template {template.get('name')!r} has none of {', '.join(KINDS)}")


def _merge_defaults(defaults: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(defaults))
    for key, value in template.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge_defaults(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve(
    run: RunState, call: Mapping[str, Any], owner: Owner
) -> tuple[dict[str, Any], Owner, str | None, dict[str, Any] | None]:
    """(template, its owner, templateName for the node, templateRef for the node)."""
    if call.get("templateRef"):
        ref = dict(call["templateRef"])
        if run.store is None:
            raise TemplateError(f"templateRef {ref}: no WorkflowTemplates were given (--templates)")
        try:
            template, found = run.store.resolve_template_ref(ref)
        except (DocumentError, LookupError, ValueError) as exc:
            raise TemplateError(str(exc)) from None
        kind = "cluster" if ref.get("clusterScope") else "namespaced"
        new_owner = Owner(str(found.name), dict(found.templates), f"{kind}/{found.name}")
        tref = {"name": ref.get("name"), "template": ref.get("template")}
        if ref.get("clusterScope"):
            tref["clusterScope"] = True
        template_name, owner = None, new_owner
    elif call.get("inline"):
        template = dict(call["inline"])
        template.setdefault("name", "")
        template_name, tref = None, None
    else:
        name = str(call.get("template") or "")
        if name not in owner.templates:
            where = "the workflow" if owner.scope == "local/" else owner.scope
            raise TemplateError(f"template {name!r} not found in {where}")
        template, template_name, tref = dict(owner.templates[name]), name, None
    defaults = run.spec.get("templateDefaults")
    if defaults:
        template = _merge_defaults(defaults, template)
    return template, owner, template_name, tref


def execute(
    run: RunState,
    call: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
) -> Node:
    """Run `call` (a step, a task, or `{"template": entrypoint}`) as node `name`. An
    unexpected exception makes the node an Error (`guard`) instead of ending the run."""
    try:
        return _execute(
            run, call, name=name, display=display, parent=parent, frame=frame, args=args
        )
    except Exception as exc:
        return internal_error(
            run, exc, name=name, display=display, parent=parent, boundary_id=frame.boundary_id
        )


def _execute(
    run: RunState,
    call: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
) -> Node:
    called = call.get("template")
    if frame.depth > run.options.max_depth:
        # Argo's ErrMaxDepthExceeded: an Error node, but not an error of the step group.
        node = run.tree.add(
            name, display, n.POD, parent=parent, boundary_id=frame.boundary_id,
            template_name=called if isinstance(called, str) else None,
        )  # fmt: skip
        message = (
            f"{name}: templates nested deeper than {run.options.max_depth} levels "
            "(unbounded recursion?)"
        )
        return run.tree.finish(node, n.ERROR, message)
    try:
        template, owner, template_name, tref = resolve(run, call, frame.owner)
        kind = template_kind(template)
    except TemplateError as exc:
        node = run.tree.add(
            name,
            display,
            n.POD,
            parent=parent,
            boundary_id=frame.boundary_id,
            template_name=called if isinstance(called, str) else None,
        )
        return run.tree.refuse(node, str(exc))
    frame = frame.but(owner=owner, depth=frame.depth + 1)
    metrics = bool(template.get("metrics"))
    variables = run.globals.child(frame.extra) if metrics else run.globals
    if metrics:
        run.metrics.node_started(template, variables=variables, duration=_elapsed(run, name))
    strategy = retry_strategy(run, template)
    if strategy:
        from .retry import run_retry

        node = run_retry(
            run, template, kind, template_name, tref, strategy=strategy, name=name, display=display,
            parent=parent, frame=frame, args=args,
        )  # fmt: skip
    else:
        node = attempt(
            run, template, kind, template_name, tref, name=name, display=display,
            parent=parent, frame=frame, args=args,
        )  # fmt: skip
    if metrics:
        run.metrics.node_finished(
            template, node.to_status(), variables=variables, duration=_elapsed(run, name)()
        )
    return node


def _elapsed(run: RunState, name: str) -> Callable[[], float]:
    """Seconds node `name` has run (so far, or in all): a real-time metric's `duration`."""

    def seconds() -> float:
        node = run.tree.by_name(name)
        if node is None:
            return 0.0
        return (node.finished_at or time.time()) - node.started_at

    return seconds


def retry_strategy(run: RunState, template: Mapping[str, Any]) -> dict[str, Any] | None:
    """Argo's `woc.retryStrategy(tmpl)`: the template's own `retryStrategy` (after
    `templateDefaults`), else the workflow's `spec.retryStrategy`, for every kind of template
    (steps and DAGs too, so each of their children is retried as well)."""
    own = template.get("retryStrategy")
    strategy = own if own is not None else run.spec.get("retryStrategy")
    return dict(strategy) if strategy else None


def attempt(
    run: RunState,
    template: dict[str, Any],
    kind: str,
    template_name: str | None,
    tref: dict[str, Any] | None,
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
    retry_entries: Mapping[str, str] | None = None,
) -> Node:
    node = run.tree.add(
        name,
        display,
        NODE_TYPES.get(kind, n.POD),
        parent=parent,
        boundary_id=frame.boundary_id,
        template_name=template_name,
        template_ref=tref,
        template_scope=frame.owner.scope,
    )
    reason = blocked(run, frame)
    if reason is not None:
        return run.tree.finish(node, n.FAILED, reason)
    pod = pod_name(run.name, name, str(template.get("name") or ""), node.id)
    # Argo's ProcessArgs/SubstituteParams: inputs see the globals and the node's locals.
    locals_ = (
        run.globals.child(frame.extra)
        .child(retry_entries or {})
        .with_pod(pod_name=pod, node_name=name)
    )
    try:
        parameters = resolve_parameters(
            template, args, frame.scope, locals_, run.options.config_maps
        )
        artifacts = resolve_input_artifacts(template, args)
    except _RESOLVE_ERRORS as exc:
        return run.tree.refuse(node, str(exc))
    resolved = dict(template)
    inputs: dict[str, Any] = {}
    if parameters:
        inputs["parameters"] = parameters
    if artifacts:
        inputs["artifacts"] = artifacts
    resolved["inputs"] = inputs
    resolved.pop("retryStrategy", None)
    run.tree.update(node, inputs=_public_inputs(inputs))
    scope = locals_.with_template_io(resolved)
    try:
        inner = frame.but(deadline=_deadline(template, scope, frame))
    except (SubstitutionError, ValueError) as exc:
        return run.tree.refuse(node, f"template {template.get('name')!r}: timeout: {exc}")
    return _dispatch(run, node, resolved, kind, scope=scope, frame=inner, pod=pod)


def _dispatch(
    run: RunState,
    node: Node,
    template: dict[str, Any],
    kind: str,
    *,
    scope: Scope,
    frame: Frame,
    pod: str,
) -> Node:
    if kind == "steps":
        from .steps import run_steps

        return run_steps(run, node, template, scope, frame)
    if kind == "dag":
        from .dag import run_dag

        return run_dag(run, node, template, scope, frame)
    if kind == "suspend":
        return run_suspend(run, node, template, scope, frame)
    return run_pod(run, node, template=template, kind=kind, scope=scope, frame=frame, pod=pod)


def blocked(run: RunState, frame: Frame) -> str | None:
    """Why a node may not start now (stop request, deadline, abort); exit handlers start
    unless the run is aborted."""
    reason = run.stopping(on_exit=frame.on_exit)
    if reason is not None or frame.on_exit:
        return reason
    if frame.deadline is not None and time.time() >= frame.deadline:
        return DEADLINE_MESSAGE
    return None


def _public_inputs(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    shown = {
        kind: [{k: v for k, v in item.items() if k != "missing"} for item in items]
        for kind, items in inputs.items()
    }
    return shown or None


def _deadline(template: Mapping[str, Any], scope: Scope, frame: Frame) -> float | None:
    """The tightest deadline for the template's run: the frame's, or its own `timeout`."""
    timeout = template.get("timeout")
    if not timeout:
        return frame.deadline
    text = str(substitute(str(timeout), scope, allow_unresolved=False, location="timeout"))
    limit = time.time() + seconds(text)
    return limit if frame.deadline is None else min(frame.deadline, limit)


def _when(moment: float | None) -> datetime | None:
    return datetime.fromtimestamp(moment, UTC) if moment is not None else None


def _pod_context(
    run: RunState, node: Node, template: Mapping[str, Any], scope: Scope, frame: Frame
) -> PodContext:
    claims = [
        {"name": name, "persistentVolumeClaim": {"claimName": f"{run.name}-{name}"}}
        for name in (
            (v.get("metadata") or {}).get("name")
            for v in run.spec.get("volumeClaimTemplates") or []
        )
    ]
    return PodContext(
        workflow_name=run.name,
        node_name=node.name,
        workflow_uid=run.uid,
        namespace=run.options.namespace,
        node_id=node.id,
        template_name=str(template.get("name") or ""),
        workflow_spec=run.spec,
        persistent_volume_claims=claims,
        executor_image=run.options.executor_image,
        executor_env=[{"name": k, "value": v} for k, v in run.options.executor_env],
        log_level=run.options.log_level,
        include_script_output=True,
        on_exit=frame.on_exit,
        deadline=_when(frame.deadline),
        workflow_deadline=_when(run.deadline),
        template_deadline=_when(frame.deadline),
        artifact_repository=run.options.artifact_repository,
        variables=dict(scope),
    )


def run_pod(
    run: RunState,
    node: Node,
    *,
    template: dict[str, Any],
    kind: str,
    scope: Scope,
    frame: Frame,
    pod: str,
) -> Node:
    where = f"template {template.get('name')!r}"
    if kind == "resource" and run.options.kubeconfig is None:
        return run.tree.refuse(
            node,
            f"{where} is a resource template and needs a Kubernetes API: no kubeconfig was "
            "given (--kubeconfig or KUBECONFIG)",
        )
    try:
        # `metrics` are evaluated when the node completes, with variables only known then.
        pod_template = {k: v for k, v in template.items() if k != "metrics"}
        body = substitute(pod_template, scope, allow_unresolved=False, location=where)
        spec, config_maps = pods.build(body, _pod_context(run, node, body, scope, frame))
    except (SubstitutionError, ExpressionError) as exc:
        return run.tree.refuse(node, str(exc))
    except (PodBuildError, ValueError) as exc:
        return run.tree.refuse(node, f"{where}: {exc}")
    if kind == "resource":
        _mount_kubeconfig(spec, str(run.options.kubeconfig))
    mains = Template.model_validate(body).main_containers()
    outcome = _run_pod(run, node, spec, config_maps, frame=frame, pod=pod, mains=mains)
    if isinstance(outcome, str):
        return run.tree.finish(node, n.FAILED, outcome)
    if outcome.phase == n.SUCCEEDED:
        export_globals(run, template, outcome.outputs)
    return run.tree.finish(node, outcome.phase, outcome.message, outputs=outcome.outputs)


def _run_pod(
    run: RunState,
    node: Node,
    spec: dict[str, Any],
    config_maps: Mapping[str, Mapping[str, str]],
    *,
    frame: Frame,
    pod: str,
    mains: list[str],
) -> pods.PodOutcome | str:
    """Run the pod once a slot is free (`PodSlots`); a string if it never started. The pod is
    registered with the run until it was cleaned up, so an abort finds it."""
    stop = Stop()
    run.register_pod(stop, pod, on_exit=frame.on_exit)
    try:
        reason = run.pod_slots.acquire(
            blocked=lambda: blocked(run, frame),
            waiting=lambda message: run.tree.update(node, message=message),
            poll=run.options.poll_interval,
        )
        if reason is not None:
            return reason
        try:
            node.pod_started_mono = time.monotonic()
            run.tree.update(
                node, phase=n.RUNNING, message="", pod_name=pod, host_node_name="localhost"
            )
            return pods.run(
                run.runtime,
                run.results,
                spec,
                config_maps={**run.options.config_maps, **config_maps},
                secrets=run.options.secrets_dir,
                stop=stop,
                main_containers=mains,
                max_parameters_bytes=run.options.max_output_parameters_bytes,
            )
        finally:
            run.pod_slots.release()
            _cleanup(run, pod)
    finally:
        run.unregister_pod(stop)


def _mount_kubeconfig(pod: dict[str, Any], host_path: str) -> None:
    """A resource pod's main talks to the API of the controller's kubeconfig: the file is bound
    read-only into the container (a host path may sit under the host's /tmp, which a sandboxed
    container does not see)."""
    pod["spec"].setdefault("volumes", []).append(
        {"name": KUBECONFIG_VOLUME, "hostPath": {"path": host_path, "type": "File"}}
    )
    for container in pod["spec"]["containers"]:
        if container.get("name") == MAIN_CONTAINER:
            container.setdefault("volumeMounts", []).append(
                {"name": KUBECONFIG_VOLUME, "mountPath": KUBECONFIG_IN_POD, "readOnly": True}
            )
            container.setdefault("env", []).append(
                {"name": "KUBECONFIG", "value": KUBECONFIG_IN_POD}
            )


def _cleanup(run: RunState, pod_name_: str) -> None:
    # Pod GC is best effort; the pod's logs stay either way.
    with contextlib.suppress(OSError, RuntimeError):
        run.runtime.cleanup(pod_name_)


def export_globals(
    run: RunState, template: Mapping[str, Any], outputs: Mapping[str, Any] | None
) -> None:
    """Publish outputs whose declaration carries `globalName` (`workflow.outputs.*`)."""
    if not outputs:
        return
    declared = template.get("outputs") or {}
    for kind in ("parameters", "artifacts"):
        names = {d.get("name"): d.get("globalName") for d in declared.get(kind) or []}
        for item in outputs.get(kind) or []:
            global_name = item.get("globalName") or names.get(item.get("name"))
            if not global_name:
                continue
            if kind == "parameters":
                run.export_parameter(str(global_name), str(item.get("value") or ""))
            else:
                run.export_artifact(
                    str(global_name), {k: v for k, v in item.items() if k != "name"}
                )


def run_suspend(
    run: RunState, node: Node, template: dict[str, Any], scope: Scope, frame: Frame
) -> Node:
    spec = template.get("suspend") or {}
    until: float | None = None
    if spec.get("duration") not in (None, ""):
        try:
            text = str(substitute(str(spec["duration"]), scope, allow_unresolved=False))
            wait = seconds(text)
        except (SubstitutionError, ValueError) as exc:
            return run.tree.refuse(node, f"suspend duration: {exc}")
        until = time.time() + wait
    # As Argo's node: while suspended it lists the output parameters it expects to be supplied
    # (valueFrom.supplied), which `argoexec resume -p` checks its names against.
    run.tree.update(node, phase=n.RUNNING, outputs=_expected_outputs(template))
    message = ""
    with run.lock:
        while True:
            if node.id in run.resumed:
                break
            if until is not None and time.time() >= until:
                break
            reason = run.stopping(on_exit=frame.on_exit)
            if reason is None and frame.deadline is not None and time.time() >= frame.deadline:
                reason = DEADLINE_MESSAGE
            if reason is not None:
                message = reason
                break
            timeout = run.options.poll_interval * 4
            if until is not None:
                timeout = max(0.0, min(timeout, until - time.time()))
            run.changed.wait(timeout)
    if message:
        return run.tree.finish(node, n.FAILED, message, outputs=None)
    with run.lock:
        supplied = dict(run.supplied.get(node.id) or {})
    try:
        outputs = _suspend_outputs(template, supplied)
    except ValueError as exc:
        return run.tree.finish(node, n.ERROR, str(exc), outputs=None)
    export_globals(run, template, outputs)
    return run.tree.finish(node, n.SUCCEEDED, outputs=outputs)


def _expected_outputs(template: Mapping[str, Any]) -> dict[str, Any] | None:
    declared = (template.get("outputs") or {}).get("parameters") or []
    expected = [dict(p) for p in declared if "supplied" in (p.get("valueFrom") or {})]
    return {"parameters": expected} if expected else None


def _suspend_outputs(
    template: Mapping[str, Any], supplied: Mapping[str, str]
) -> dict[str, Any] | None:
    """A resumed suspend node's output parameters: the value supplied with the resume
    (`argoexec resume -p NAME=VALUE`, Argo's `argo node set`), else `valueFrom.default`."""
    params = []
    for param in (template.get("outputs") or {}).get("parameters") or []:
        name = str(param.get("name"))
        value_from = param.get("valueFrom") or {}
        value = supplied.get(name, param.get("value"))
        if value is None and value_from.get("default") is not None:
            value = parameter_text(value_from["default"])
        if value is None and "supplied" in value_from:
            raise ValueError(
                f"output parameter {name!r} was not supplied: resume with -p {name}=VALUE"
            )
        if value is not None:
            entry = {k: v for k, v in param.items() if k != "valueFrom"}
            params.append({**entry, "value": str(value)})
    return {"parameters": params} if params else None
