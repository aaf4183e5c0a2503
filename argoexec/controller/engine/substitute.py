"""Argo's `{{...}}` template substitution over JSON-like values.

Upstream marshals a template to JSON and runs `fasttemplate` over the text; we walk the decoded
value instead, which gives the same result without JSON-escaping replacements and lets an error
name the place (`spec.templates[2].container.args[0]`). Mirrored behaviour:

* a tag runs from `{{` to the next `}}`; `{{ name }}` is looked up with surrounding whitespace
  trimmed; a `{{` with no closing `}}` is literal text;
* `{{=expr}}` (the `=` right after the braces) is an expr-lang expression over the nested scope,
  written with Go's `%v`; a nil result is an error;
* with `allow_unresolved` (Argo's early passes) unknown names and expressions over variables the
  scope does not have yet are written back verbatim, for a later pass to resolve;
* replacements are never scanned again, except Argo's nested-tag rule: in
  `{{steps.{{inputs.parameters.step}}.outputs.result}}` the inner tag is resolved and the outer
  one is written back as a tag for the next pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argoexec.controller.expr import ExpressionError, evaluate_expr, render_value
from argoexec.controller.expr import evaluate_when as evaluate_govaluate

from .scope import Scope, parameter_text

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_PURE_TAG = re.compile(r"\{\{(?!=)[^{}]*\}\}")
# Variables that only exist late (under retries, in exit handlers). Before they exist an
# expression over them is left alone even when it would evaluate (`sprig.int(retries)` is 0 on
# nil), as upstream does (argo-workflows#5388, #10393).
_LATE_VARIABLES = {
    "retries": re.compile(r"\bretries\b"),
    "workflow.status": re.compile(r"\bworkflow\.status\b"),
    "workflow.failures": re.compile(r"\bworkflow\.failures\b"),
}


# Why a tag naming an absent output (Scope.is_absent) cannot be substituted: Argo v4 fails such
# a reference terminally instead of passing an empty string on.
ABSENT_REASON = (
    "it is an output of a Skipped or Omitted node that declares no valueFrom.default "
    "(give the output a default, or use `??` in a {{=...}} expression)"
)


class SubstitutionError(Exception):
    """A tag that cannot be resolved; `str()` names the tag, the place and the cause."""

    def __init__(self, reason: str, *, tag: str, location: str) -> None:
        self.reason = reason
        self.tag = tag
        self.location = location
        where = f" at {location}" if location else ""
        super().__init__(f"failed to resolve {{{{{tag}}}}}{where}: {reason}")


def child_location(location: str, key: str | int) -> str:
    """Extend a JSON-path-like location: `a.b`, `a[3]`, `a["odd.key"]`."""
    if isinstance(key, int):
        return f"{location}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{location}.{key}" if location else key
    return f'{location}["{key}"]'


class _Substituter:
    def __init__(self, scope: Scope, allow_unresolved: bool) -> None:
        self.scope = scope
        self.allow_unresolved = allow_unresolved
        self._env: dict[str, Any] | None = None

    @property
    def env(self) -> dict[str, Any]:
        if self._env is None:
            self._env = self.scope.as_expr_env()
        return self._env

    def value(self, value: Any, location: str) -> Any:
        if isinstance(value, str):
            return self.text(value, location)
        if isinstance(value, Mapping):
            return {
                (self.text(k, location) if isinstance(k, str) else k): self.value(
                    v, child_location(location, str(k))
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v, child_location(location, i)) for i, v in enumerate(value)]
        return value

    def text(self, text: str, location: str) -> str:
        if "{{" not in text:
            return text
        out: list[str] = []
        pos = 0
        while (start := text.find("{{", pos)) != -1:
            end = text.find("}}", start + 2)
            if end == -1:
                break
            out.append(text[pos:start])
            out.append(self.tag(text[start + 2 : end], location))
            pos = end + 2
        out.append(text[pos:])
        return "".join(out)

    def tag(self, tag: str, location: str) -> str:
        if tag.startswith("="):
            return self.expression(tag, location)
        name = tag.strip()
        if name in self.scope:
            return self.scope[name]
        nested = tag.rfind("{{")
        if nested > 0 and tag[nested + 2 :] in self.scope:
            return "{{" + tag[:nested] + self.scope[tag[nested + 2 :]]
        if self.allow_unresolved:
            return "{{" + tag + "}}"
        if self.scope.is_absent(name):
            raise SubstitutionError(ABSENT_REASON, tag=tag, location=location)
        raise SubstitutionError(f"{name or '(empty)'} is not defined", tag=tag, location=location)

    def expression(self, tag: str, location: str) -> str:
        source = tag[1:]
        verbatim = "{{" + tag + "}}"
        if self.allow_unresolved and any(
            pattern.search(source) and name not in self.scope
            for name, pattern in _LATE_VARIABLES.items()
        ):
            return verbatim
        try:
            result = evaluate_expr(source, self.env)
        except ExpressionError as exc:
            if self.allow_unresolved and exc.unresolved:
                return verbatim
            raise SubstitutionError(str(exc), tag=tag, location=location) from None
        if result is None:
            if self.allow_unresolved:
                return verbatim
            raise SubstitutionError("the expression evaluated to nil", tag=tag, location=location)
        return render_value(result)


def substitute(value: Any, scope: Scope, *, allow_unresolved: bool, location: str = "") -> Any:
    """Replace every `{{name}}` and `{{=expr}}` in `value` (a string, or dicts/lists of them;
    string keys too) and return the new value; `value` itself is not modified. `location`
    names where `value` sits, for error messages."""
    return _Substituter(scope, allow_unresolved).value(value, location)


def evaluate_when(text: str, scope: Scope, *, location: str = "when") -> bool:
    """A step's or task's `when`: substitute every tag (all must resolve), then evaluate the
    text as govaluate. Raises `SubstitutionError` or `ExpressionError` (dialect "when")."""
    substituted = substitute(text, scope, allow_unresolved=False, location=location)
    return evaluate_govaluate(substituted)


class ArgumentError(Exception):
    """An input parameter that is missing or not one of its `enum` values."""


def resolve_arguments(
    template_inputs: Mapping[str, Any] | None,
    arguments: Mapping[str, Any] | None,
    scope: Scope,
    *,
    template_name: str = "",
) -> list[dict[str, Any]]:
    """The input parameters of one template call (Argo's `ProcessArgs`), each with its `value`.

    For every parameter the template declares: a passed argument wins (its `value`, or its
    `valueFrom` for the caller to resolve), then the template's own `value`, then its `default`.
    An argument that was a pure reference to an absent output (`mark_absent_arguments`) counts
    as not passed, so the input's own value or default applies. A parameter with neither value
    nor valueFrom is an error, and so is a value outside a declared `enum`. Arguments the
    template does not declare are ignored, as upstream.

    Values (and defaults) are then substituted as Argo's `SubstituteParams` does: first with
    `scope` (globals and the node's locals: `pod.name`, `node.name`, `retries`...), then with
    the other inputs as that first pass left them (`{{inputs.parameters.a}}` and
    `{{=inputs.parameters.a + 1}}` in another input's default). Tags neither pass resolves stay
    for the template pass, as upstream.
    """
    passed = {p.get("name"): p for p in (arguments or {}).get("parameters") or []}
    resolved = [
        _bind(declared, passed.get(declared.get("name", "")), template_name)
        for declared in (template_inputs or {}).get("parameters") or []
    ]
    _substitute_inputs(resolved, scope)
    inputs = scope.with_template_io({"inputs": {"parameters": resolved}})
    _substitute_inputs(resolved, inputs)
    for parameter in resolved:
        if parameter.get("value") is not None:
            _check_enum(parameter, template_name)
    return resolved


def _bind(
    declared: Mapping[str, Any], argument: Mapping[str, Any] | None, template_name: str
) -> dict[str, Any]:
    parameter = dict(declared)
    name = parameter.get("name", "")
    if parameter.get("value") is None and parameter.get("default") is not None:
        parameter["value"] = parameter["default"]
    if argument is not None and argument.get("absent"):
        if parameter.get("value") is None and parameter.get("valueFrom") is None:
            raise ArgumentError(
                f"template {template_name!r}: inputs.parameters.{name}: the argument "
                f"{{{{{argument['absent']}}}}} names an output of a Skipped or Omitted node "
                "that declares no valueFrom.default, and the input has no default"
            )
    elif argument is not None and argument.get("value") is not None:
        parameter["value"] = argument["value"]
        parameter.pop("valueFrom", None)
    elif argument is not None and argument.get("valueFrom") is not None:
        parameter["valueFrom"] = argument["valueFrom"]
        parameter.pop("value", None)
    if parameter.get("value") is None and parameter.get("valueFrom") is None:
        raise ArgumentError(
            f"template {template_name!r}: inputs.parameters.{name} was not supplied "
            "(no argument, value or default)"
        )
    if parameter.get("value") is not None:
        parameter["value"] = parameter_text(parameter["value"])
    return parameter


def _substitute_inputs(parameters: list[dict[str, Any]], scope: Scope) -> None:
    for index, parameter in enumerate(parameters):
        for key in ("value", "default"):
            if isinstance(parameter.get(key), str):
                where = child_location(child_location("inputs.parameters", index), key)
                parameter[key] = substitute(
                    parameter[key], scope, allow_unresolved=True, location=where
                )


def mark_absent_arguments(parameters: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    """Argo's `markAbsentOptionalArgs`: an argument whose value is exactly one `{{tag}}` naming
    an absent output becomes `{"name": ..., "absent": tag}`, so the called template's own
    input default applies (`resolve_arguments`); a value that merely contains such a tag
    still fails substitution."""
    marked = []
    for parameter in parameters:
        value = parameter.get("value")
        key = str(value)[2:-2].strip()
        if isinstance(value, str) and _PURE_TAG.fullmatch(value) and scope.is_absent(key):
            marked.append({k: v for k, v in parameter.items() if k != "value"} | {"absent": key})
        else:
            marked.append(parameter)
    return marked


def _check_enum(parameter: Mapping[str, Any], template_name: str) -> None:
    enum = parameter.get("enum")
    # A value still holding tags is checked when the template pass resolves it.
    if enum is None or "{{" in parameter["value"]:
        return
    allowed = [parameter_text(v) for v in enum]
    if parameter["value"] not in allowed:
        raise ArgumentError(
            f"template {template_name!r}: inputs.parameters.{parameter.get('name')} value "
            f"{parameter['value']!r} is not one of the enum values {allowed}"
        )
