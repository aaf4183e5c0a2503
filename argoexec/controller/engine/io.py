"""Inputs and outputs of a node: argument resolution (parameters with `valueFrom`, artifacts by
name or `from`/`fromExpression`) and the outputs of steps/DAG templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.expr import ExpressionError, evaluate_expr, expand_env, render_value
from argoexec.models.artifacts import LOCATION_KINDS
from artifacts.subpath import join_sub_paths, sub_path_problem

from .scope import Scope, parameter_text
from .substitute import ArgumentError, SubstitutionError, resolve_arguments, substitute

LOCATION_KEYS = (*LOCATION_KINDS, "archiveLogs")
# What an argument artifact carries to the declared input besides its location.
_CARRIED = ("archive",)


# The key of the placeholder published for a declared output artifact of a Skipped or Omitted
# node: its value says why there is no artifact. A reference to it fails unless optional.
ABSENT_ARTIFACT = "absent"


class InputError(Exception):
    """An input that cannot be resolved; the message names the template and the input."""


def location_of(artifact: Mapping[str, Any]) -> dict[str, Any]:
    return {k: artifact[k] for k in (*LOCATION_KEYS, *_CARRIED) if artifact.get(k) is not None}


def has_location(artifact: Mapping[str, Any]) -> bool:
    return any(artifact.get(k) is not None for k in LOCATION_KEYS if k != "archiveLogs")


def _ref_key(text: str) -> str | None:
    text = text.strip()
    if text.startswith("{{") and text.endswith("}}"):
        return text[2:-2].strip()
    return None


def lookup_artifact(
    reference: Any,
    artifacts: Mapping[str, Mapping[str, Any]],
    scope: Scope,
    *,
    expression: bool,
    where: str,
) -> dict[str, Any] | None:
    """The artifact a `from` (`{{steps.a.outputs.artifacts.x}}`) or `fromExpression` names;
    None when the source produced no such artifact."""
    if expression:
        env = expand_env({**dict(scope), **artifacts})
        try:
            found = evaluate_expr(str(reference), env)
        except ExpressionError as exc:
            raise InputError(f"{where}: fromExpression: {exc}") from None
        if found is None:
            return None
        if not isinstance(found, Mapping):
            raise InputError(f"{where}: fromExpression {reference!r} is not an artifact")
        return dict(found)
    key = _ref_key(str(reference))
    if key is None:
        raise InputError(f"{where}: from {reference!r} must be a single {{{{...}}}} reference")
    found = artifacts.get(key)
    if found is None and not (
        key.startswith(("steps.", "tasks.", "inputs.", "workflow.outputs."))
        and ".artifacts." in key
    ):
        raise InputError(f"{where}: from {reference!r} does not name an artifact")
    return dict(found) if found is not None else None


def sub_path(artifact: Mapping[str, Any], scope: Scope, place: str) -> str:
    """The artifact's `subPath` with the scope's tags resolved (Argo substitutes it before
    `AppendToKey`), checked to be a clean relative path; "" when none (an empty value, as in
    Argo, selects the whole artifact)."""
    raw = artifact.get("subPath")
    if raw is None or raw == "":
        return ""
    try:
        text = str(substitute(str(raw), scope, allow_unresolved=False, location=place))
    except SubstitutionError as exc:
        raise InputError(str(exc)) from None
    problem = sub_path_problem(text) if text else None
    if problem:
        raise InputError(f"{place}: subPath {text!r} {problem}")
    return text


def argument_artifacts(
    arguments: Mapping[str, Any] | None,
    artifacts: Mapping[str, Mapping[str, Any]],
    scope: Scope,
    where: str,
) -> list[dict[str, Any]]:
    """A step's or task's `arguments.artifacts`, each resolved to a location (and the
    `subPath` inside it: the source's, then the argument's own)."""
    resolved: list[dict[str, Any]] = []
    for index, argument in enumerate((arguments or {}).get("artifacts") or []):
        place = f"{where}.arguments.artifacts[{index}] ({argument.get('name')})"
        reference = argument.get("from") or argument.get("fromExpression")
        source: dict[str, Any] | None = dict(argument)
        if reference:
            by_expression = not argument.get("from")
            source = lookup_artifact(
                reference, artifacts, scope, expression=by_expression, where=place
            )
        if source is not None and source.get(ABSENT_ARTIFACT):
            # A Skipped/Omitted producer has no such artifact: an Error unless optional.
            if not argument.get("optional"):
                raise InputError(f"{place}: {reference} {source[ABSENT_ARTIFACT]}")
            source = None
        own = sub_path(argument, scope, place)
        if source is None and own and not argument.get("optional"):
            # Argo fails a `from` it cannot resolve unless the argument is optional.
            raise InputError(
                f"{place}: {reference} produced no such artifact, so there is nothing to take "
                f"subPath {own!r} from"
            )
        out = {k: v for k, v in argument.items() if k not in ("from", "fromExpression")}
        out.pop("subPath", None)
        if source is None:
            out["missing"] = reference
            source = {}
        out.update(location_of(source))
        inherited = sub_path(source, scope, place) if reference else ""
        selected = join_sub_paths(inherited, own)
        if selected:
            out["subPath"] = selected
        resolved.append(out)
    return resolved


def resolve_parameters(
    template: Mapping[str, Any],
    arguments: Mapping[str, Any] | None,
    caller: Scope,
    globals_: Scope,
    config_maps: Mapping[str, Mapping[str, str]],
) -> list[dict[str, Any]]:
    name = str(template.get("name") or "")
    params = resolve_arguments(template.get("inputs"), arguments, globals_, template_name=name)
    for param in params:
        value_from = param.get("valueFrom")
        if param.get("value") is not None or not value_from:
            continue
        param["value"] = _value_from(name, param, value_from, caller, config_maps)
        param.pop("valueFrom", None)
        enum = param.get("enum")
        if enum is not None and param["value"] not in [parameter_text(v) for v in enum]:
            raise ArgumentError(
                f"template {name!r}: inputs.parameters.{param['name']} value "
                f"{param['value']!r} is not one of the enum values {enum}"
            )
    return params


def _value_from(
    template: str,
    param: Mapping[str, Any],
    value_from: Mapping[str, Any],
    caller: Scope,
    config_maps: Mapping[str, Mapping[str, str]],
) -> str:
    where = f"template {template!r}: inputs.parameters.{param.get('name')}"
    ref = value_from.get("configMapKeyRef")
    if ref:
        data = config_maps.get(str(ref.get("name")))
        if data is not None and str(ref.get("key")) in data:
            return data[str(ref.get("key"))]
        if value_from.get("default") is not None:
            return parameter_text(value_from["default"])
        raise ArgumentError(
            f"{where}: ConfigMap {ref.get('name')!r} key {ref.get('key')!r} not found "
            "(give ConfigMaps with --templates)"
        )
    if value_from.get("expression"):
        try:
            value = evaluate_expr(str(value_from["expression"]), caller.as_expr_env())
        except ExpressionError as exc:
            raise ArgumentError(f"{where}: {exc}") from None
        if value is None:
            raise ArgumentError(f"{where}: the expression evaluated to nil")
        return render_value(value)
    if value_from.get("default") is not None:
        return parameter_text(value_from["default"])
    raise ArgumentError(f"{where}: no value (valueFrom {sorted(value_from)} is not supported here)")


def resolve_input_artifacts(
    template: Mapping[str, Any], arguments: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The template's input artifacts with the arguments' locations. A declared `subPath`
    goes with the declared location; on an input without one it selects inside whatever
    artifact is passed (after the argument's own subPath)."""
    name = template.get("name")
    passed = {a.get("name"): a for a in (arguments or {}).get("artifacts") or []}
    resolved: list[dict[str, Any]] = []
    for declared in (template.get("inputs") or {}).get("artifacts") or []:
        artifact = dict(declared)
        argument = passed.get(declared.get("name"))
        if argument is not None and not argument.get("missing"):
            inner = None if has_location(declared) else declared.get("subPath")
            for key in (*LOCATION_KEYS, "subPath"):
                artifact.pop(key, None)
            artifact.update(location_of(argument))
            selected = join_sub_paths(argument.get("subPath"), inner)
            if selected:
                artifact["subPath"] = selected
        elif not has_location(artifact) and not artifact.get("optional"):
            detail = ""
            if argument is not None:
                detail = f": {argument['missing']} produced no such artifact"
            raise InputError(
                f"template {name!r}: inputs.artifacts.{declared.get('name')} was not supplied"
                f"{detail}"
            )
        resolved.append(artifact)
    return resolved


def template_outputs(
    template: Mapping[str, Any],
    scope: Scope,
    artifacts: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any] | None:
    """The outputs of a steps/DAG template: parameters from `valueFrom.parameter` or
    `valueFrom.expression`, artifacts from `from`/`fromExpression`."""
    spec = template.get("outputs") or {}
    name = str(template.get("name") or "")
    outputs: dict[str, Any] = {}
    parameters = [
        _output_parameter(name, index, param, scope)
        for index, param in enumerate(spec.get("parameters") or [])
    ]
    if parameters:
        outputs["parameters"] = parameters
    arts = []
    for index, art in enumerate(spec.get("artifacts") or []):
        where = f"template {name!r}: outputs.artifacts[{index}] ({art.get('name')})"
        if not (art.get("from") or art.get("fromExpression")):
            continue
        expression = not art.get("from")
        reference = art.get("from") or art.get("fromExpression")
        source = lookup_artifact(reference, artifacts, scope, expression=expression, where=where)
        if source is None or source.get(ABSENT_ARTIFACT):
            if art.get("optional"):
                continue
            why = (source or {}).get(ABSENT_ARTIFACT) or "produced no such artifact"
            raise InputError(f"{where}: {reference} {why}")
        entry = {k: v for k, v in art.items() if k not in ("from", "fromExpression", "subPath")}
        entry.update(location_of(source))
        selected = join_sub_paths(sub_path(source, scope, where), sub_path(art, scope, where))
        if selected:
            entry["subPath"] = selected
        arts.append(entry)
    if arts:
        outputs["artifacts"] = arts
    return outputs or None


def _output_parameter(
    template: str, index: int, param: Mapping[str, Any], scope: Scope
) -> dict[str, Any]:
    where = f"template {template!r}: outputs.parameters[{index}] ({param.get('name')})"
    value_from = param.get("valueFrom") or {}
    value: str | None = None
    try:
        if value_from.get("parameter") is not None:
            text = substitute(
                value_from["parameter"], scope, allow_unresolved=False, location=where
            )
            value = str(text)
        elif value_from.get("expression"):
            source = str(value_from["expression"])
            result = evaluate_expr(source, scope.as_expr_env())
            if result is None:
                # Argo: a nil result (an absent output read without `??`) does not resolve.
                raise ExpressionError("the expression evaluated to nil", expression=source)
            value = render_value(result)
        elif param.get("value") is not None:
            text = substitute(parameter_text(param["value"]), scope, allow_unresolved=False)
            value = str(text)
    except (SubstitutionError, ExpressionError) as exc:
        if value_from.get("default") is None:
            raise InputError(f"{where}: {exc}") from None
    if value is None and value_from.get("default") is not None:
        value = parameter_text(value_from["default"])
    entry = {k: v for k, v in param.items() if k != "valueFrom"}
    entry["value"] = value if value is not None else ""
    return entry
