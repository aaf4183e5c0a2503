"""Evaluating `metrics.prometheus` specs: a pure function of (the specs, the variables, the
real-time values) -> (samples, warnings), as Argo's `computeMetrics`.

For each metric: `help` is required; `name`, `help`, `labels` and `when` are substituted with
the variables (every tag must resolve); `when` is then evaluated as a step's `when` is; a
real-time gauge's `value` must be exactly one real-time variable (`{{duration}}` on a
template, `{{workflow.duration}}`); any other `value` is substituted and must parse as a
number (Go's `strconv.ParseFloat`). A metric that fails any of this is left out and its
warning says why; it never fails the node.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from argoexec.controller.engine.scope import Scope, parameter_text
from argoexec.controller.engine.substitute import SubstitutionError, evaluate_when, substitute
from argoexec.controller.expr import ExpressionError

KINDS = ("gauge", "counter", "histogram")
# Argo v3.6+: Prometheus' legacy metric-name rule without ':' (names must also be valid for
# OpenTelemetry); label keys follow the same rule.
NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d+)?|\d+\.|inf(?:inity)?|nan)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sample:
    """One evaluated metric: what to do to the series `name{labels}`."""

    name: str
    help: str
    kind: str  # gauge | counter | histogram
    labels: tuple[tuple[str, str], ...]
    value: float = 0.0
    operation: str = "Set"  # gauges: Set | Add | Sub
    buckets: tuple[float, ...] = ()
    live: Callable[[], float] | None = None  # a real-time gauge's value, read when written


def parse_go_float(text: str) -> float:
    """Go's `strconv.ParseFloat(text, 64)`: no surrounding spaces; `Inf`, `NaN`, `1e3`."""
    if not _GO_FLOAT.fullmatch(text):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    lowered = text.lower().lstrip("+-")
    if lowered.startswith("inf"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text.replace("_", ""))


def metric_scope(
    status: Mapping[str, Any], *, duration: float, variables: Mapping[str, str]
) -> Scope:
    """The variables a template's metrics see once its node `status` (Argo's shape) is known:
    Argo's `prepareMetricScope` over the workflow variables."""
    entries = dict(variables)
    entries.update({"resourcesDuration.cpu": "0", "resourcesDuration.memory": "0"})
    entries["duration"] = f"{duration:f}"
    entries["status"] = str(status.get("phase") or "Pending")
    children = status.get("children") or []
    if children:
        entries["retries"] = str(len(children) - 1)
    for param in (status.get("inputs") or {}).get("parameters") or []:
        entries[f"inputs.parameters.{param.get('name')}"] = _text(param.get("value"))
    outputs = status.get("outputs") or {}
    if outputs.get("result") is not None:
        entries["outputs.result"] = str(outputs["result"])
    if outputs.get("exitCode") is not None:
        entries["exitCode"] = str(outputs["exitCode"])
    for param in outputs.get("parameters") or []:
        entries[f"outputs.parameters.{param.get('name')}"] = _text(param.get("value"))
    for resource, seconds in (status.get("resourcesDuration") or {}).items():
        entries[f"resourcesDuration.{resource}"] = str(seconds)
    return Scope(entries)


def _text(value: Any) -> str:
    return "" if value is None else parameter_text(value)


def evaluate(
    specs: Sequence[Mapping[str, Any]],
    scope: Scope,
    *,
    realtime: Mapping[str, Callable[[], float]],
    realtime_only: bool = False,
) -> tuple[list[Sample], list[str]]:
    """The samples of `specs` (a `metrics.prometheus` list) and a warning per bad metric.
    `realtime_only`: only real-time gauges (emitted when a node starts)."""
    samples: list[Sample] = []
    warnings: list[str] = []
    for spec in specs:
        if realtime_only and not _is_realtime(spec):
            continue
        try:
            sample = _sample(spec, scope, realtime)
        except _MetricError as exc:
            warnings.append(str(exc))
            continue
        if sample is not None:
            samples.append(sample)
    return samples, warnings


class _MetricError(Exception):
    pass


def _is_realtime(spec: Mapping[str, Any]) -> bool:
    return bool((spec.get("gauge") or {}).get("realtime"))


def _sample(
    spec: Mapping[str, Any], scope: Scope, realtime: Mapping[str, Callable[[], float]]
) -> Sample | None:
    name = str(spec.get("name") or "")
    if not spec.get("help"):
        raise _MetricError(f"metric '{name}' must contain a help string under 'help: ' field")
    try:
        head = substitute(
            {k: spec.get(k) for k in ("name", "help", "labels")}, scope, allow_unresolved=False
        )
    except (SubstitutionError, ExpressionError) as exc:
        raise _MetricError(f"unable to substitute parameters for metric '{name}': {exc}") from None
    name, help_text = str(head["name"] or ""), str(head["help"] or "")
    if spec.get("when") and not _when(str(spec["when"]), scope, name):
        return None
    labels = _labels(head.get("labels"), name)
    kind = _kind(spec, name)
    body: Mapping[str, Any] = spec.get(kind) or {}
    if not NAME.fullmatch(name):
        raise _MetricError(
            f"could not construct metric '{name}': metric name is invalid: "
            "names may only contain alphanumeric characters or '_'"
        )
    sample = Sample(name=name, help=help_text, kind=kind, labels=labels)
    if kind == "gauge" and _is_realtime(spec):
        return _realtime(sample, str(body.get("value") or ""), realtime)
    value = _value(body.get("value"), scope, name)
    if kind == "gauge":
        operation = str(body.get("operation") or "Set")
        return replace(sample, value=value, operation=operation)
    if kind == "histogram":
        buckets = _buckets(body.get("buckets"), name)
        if not buckets:
            raise _MetricError(f"could not construct metric '{name}': histogram needs buckets")
        return replace(sample, value=value, buckets=tuple(sorted(buckets)))
    return replace(sample, value=value)


def _buckets(raw: Any, name: str) -> tuple[float, ...]:
    try:
        return tuple(parse_go_float(parameter_text(bound)) for bound in raw or ())
    except (ValueError, TypeError):
        raise _MetricError(
            f"could not construct metric '{name}': buckets must be numbers"
        ) from None


def _when(text: str, scope: Scope, name: str) -> bool:
    try:
        return evaluate_when(text, scope, location="when")
    except (SubstitutionError, ExpressionError) as exc:
        raise _MetricError(f"unable to compute 'when' clause for metric '{name}': {exc}") from None


def _labels(raw: Any, name: str) -> tuple[tuple[str, str], ...]:
    labels: list[tuple[str, str]] = []
    for label in raw or []:
        if not isinstance(label, Mapping):
            raise _MetricError(f"could not construct metric '{name}': a label needs key and value")
        key = str(label.get("key") or "")
        if not NAME.fullmatch(key):
            raise _MetricError(
                f"could not construct metric '{name}': metric label '{key}' is invalid: "
                "keys may only contain alphanumeric characters or '_'"
            )
        labels.append((key, str(label.get("value") or "")))
    return tuple(sorted(labels))


def _kind(spec: Mapping[str, Any], name: str) -> str:
    kinds = [kind for kind in KINDS if spec.get(kind) is not None]
    if len(kinds) != 1:
        raise _MetricError(
            f"could not construct metric '{name}': exactly one of gauge, counter or histogram "
            f"is needed (found {', '.join(kinds) or 'none'})"
        )
    return kinds[0]


def _value(raw: Any, scope: Scope, name: str) -> float:
    text = "" if raw is None else parameter_text(raw)
    try:
        text = str(substitute(text, scope, allow_unresolved=False, location="value"))
    except (SubstitutionError, ExpressionError) as exc:
        raise _MetricError(f"unable to substitute parameters for metric '{name}': {exc}") from None
    try:
        return parse_go_float(text)
    except ValueError as exc:
        raise _MetricError(f"could not construct metric '{name}': {exc}") from None


def _realtime(sample: Sample, value: str, realtime: Mapping[str, Callable[[], float]]) -> Sample:
    if not (value.startswith("{{") and value.endswith("}}")):
        raise _MetricError("real time metrics can only be used with metric variables")
    variable = value[2:-2].strip()
    live = realtime.get(variable)
    if live is None:
        raise _MetricError(f"'{variable}' is not available as a real time metric")
    return replace(sample, live=live)
