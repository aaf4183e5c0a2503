"""Output parameters of a ``resource`` step (argo-contract.md §6 step 10).

Each declared parameter with ``valueFrom`` takes its value from the live object:

* ``jsonPath`` — kubectl's JSONPath template (``{.status.phase}``), printed verbatim as
  ``kubectl get -o jsonpath=…`` would (see :mod:`.jsonpath`);
* ``jqFilter`` — a jq program (the ``jq`` package, i.e. libjq; Argo uses gojq): every emitted
  value is written raw if it is a string, else as compact JSON, one per line, and the whole is
  whitespace-trimmed;
* neither — the parameter is reported as declared, without a value.

When no object was acted on (``get --ignore-not-found`` of a missing object) every such parameter
is ``valueFrom.default``, or empty.
"""

from __future__ import annotations

import importlib
from typing import Any

from argoexec.errors import ExecutorError
from argoexec.executor.resource.jsonpath import JSONPathError, go_json, render
from argoexec.models import Parameter


def jq_filter(program: str, obj: Any) -> str:
    """The values ``program`` emits for ``obj``: raw strings or compact JSON, one per line."""
    jq = importlib.import_module("jq")  # only resource steps with a jqFilter load libjq
    try:
        compiled = jq.compile(program)
    except ValueError as exc:
        raise ExecutorError(f"failed to parse jq filter {program!r}: {exc}") from exc
    try:
        values = compiled.input_value(obj).all()
    except ValueError as exc:
        raise ExecutorError(f"jq filter {program!r} failed: {exc}") from exc
    lines = [v if isinstance(v, str) else go_json(v) for v in values]
    return "\n".join(lines).strip()


def json_path(template: str, obj: Any) -> str:
    try:
        return render(template, obj)
    except JSONPathError as exc:
        raise ExecutorError(f"error parsing jsonpath {template!r}: {exc}") from exc


def resource_parameters(declared: list[Parameter], obj: dict[str, Any] | None) -> list[Parameter]:
    """``declared`` with values taken from ``obj`` (``None``: nothing was acted on)."""
    out = []
    for declared_param in declared:
        param = declared_param.model_copy(deep=True)
        source = param.value_from
        if source is not None:
            try:
                value = _value(source.json_path, source.jq_filter, source.default, obj)
            except ExecutorError as exc:
                raise ExecutorError(f"output parameter '{param.name}': {exc}") from exc
            if value is not None:
                param.value = value
        out.append(param)
    return out


def _value(
    path: str | None, program: str | None, default: str | None, obj: dict[str, Any] | None
) -> str | None:
    if obj is None:
        return default or ""
    if path:
        return json_path(path, obj)
    if program:
        return jq_filter(program, obj)
    return None
