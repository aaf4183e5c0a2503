"""The variables a template can reference, as Argo's controller keeps them: a flat map of dotted
names (`inputs.parameters.message`, `steps.flip-coin.outputs.result`) to string values.

Every value is a string, exactly as upstream (numbers arrive as text, which is why expressions use
`asInt`). Whole lists are JSON text (`inputs.parameters`, `workflow.parameters`,
`workflow.failures`, a loop's aggregated `steps.<name>.outputs.parameters`). A `Scope` is
immutable: each helper returns a child scope holding the parent's entries plus the new ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from argoexec.contract import ANNOTATION_SCHEDULED_TIME
from argoexec.controller.expr import expand_env
from argoexec.controller.expr.values import to_go_json
from argoexec.durations import rfc3339

# The strftime letters Argo publishes as `workflow.creationTimestamp.<letter>`.
_STRFTIME_LETTERS = "aAbBcCdDeFHIjklmMnpRrSTtUuVwWxXyYZz"


def _json(value: Any) -> str:
    return to_go_json(value)


def parameter_text(value: Any) -> str:
    """A parameter value as Argo stores it (`AnyString`): strings verbatim, numbers and booleans
    as their YAML/JSON text, so `value: 3` reads `3` and `value: true` reads `true`."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _json(value)


class Scope(Mapping[str, str]):
    """A read-only map of Argo variable names to string values.

    A name can also be *absent* (Argo v4's "absent optional", nil in its scope): a declared
    output of a Skipped or Omitted node that has no `valueFrom.default`. An absent name is not
    in the map (a `{{tag}}` naming it cannot be substituted) but expressions see it as nil, so
    `{{= steps.x.outputs.parameters.p ?? 'none'}}` works.
    """

    __slots__ = ("_absent", "_entries")

    def __init__(
        self, entries: Mapping[str, str] | None = None, absent: Iterable[str] = ()
    ) -> None:
        self._entries: dict[str, str] = dict(entries or {})
        self._absent = frozenset(absent) - self._entries.keys()

    def __getitem__(self, key: str) -> str:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Scope({self._entries!r})"

    def child(self, entries: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> Scope:
        """A scope with this scope's entries overridden by `entries`."""
        merged = dict(self._entries)
        merged.update(dict(entries))
        return Scope(merged, self._absent)

    def with_absent(self, names: Iterable[str]) -> Scope:
        """A scope where `names` are absent (see the class docstring)."""
        gone = set(names)
        if not gone:
            return self
        kept = {k: v for k, v in self._entries.items() if k not in gone}
        return Scope(kept, self._absent | gone)

    def is_absent(self, name: str) -> bool:
        return name in self._absent

    def as_expr_env(self) -> dict[str, Any]:
        """The nested environment `{{= ... }}` expressions see: `steps['flip-coin'].outputs.result`
        and `inputs.parameters.x` both navigate it. Where a name is both a value and a prefix
        (`item` as JSON and `item.os`), the nested map wins, as upstream. Absent names are
        nil."""
        return expand_env({**dict.fromkeys(self._absent), **self._entries})

    # --- template-level entries -------------------------------------------------------------

    def with_template_io(self, template: Mapping[str, Any]) -> Scope:
        """Add what a template may reference about its own inputs and outputs (Argo's
        `substituteParams`): `inputs.parameters.<p>`, `inputs.parameters` (JSON),
        `inputs.artifacts.<a>.path`, `outputs.artifacts.<a>.path`, `outputs.parameters.<p>.path`.
        `template` must already carry resolved input values (see `resolve_arguments`)."""
        inputs = template.get("inputs") or {}
        outputs = template.get("outputs") or {}
        entries: dict[str, str] = {}
        parameters = list(inputs.get("parameters") or [])
        for parameter in parameters:
            if parameter.get("value") is not None:
                entries[f"inputs.parameters.{parameter['name']}"] = parameter_text(
                    parameter["value"]
                )
        entries["inputs.parameters"] = _json(parameters)
        for artifact in inputs.get("artifacts") or []:
            if artifact.get("path"):
                entries[f"inputs.artifacts.{artifact['name']}.path"] = artifact["path"]
        for artifact in outputs.get("artifacts") or []:
            if artifact.get("path"):
                entries[f"outputs.artifacts.{artifact['name']}.path"] = artifact["path"]
        for parameter in outputs.get("parameters") or []:
            path = (parameter.get("valueFrom") or {}).get("path")
            if path:
                entries[f"outputs.parameters.{parameter['name']}.path"] = path
        return self.child(entries)

    def with_pod(self, *, pod_name: str, node_name: str) -> Scope:
        return self.child({"pod.name": pod_name, "node.name": node_name})

    def with_retry(
        self,
        retries: int,
        *,
        exit_code: str = "",
        status: str = "",
        duration: str = "",
        message: str = "",
    ) -> Scope:
        """`retries` (0 on the first attempt) and `lastRetry.*`, which `retryStrategy.expression`
        and templates under retry may reference."""
        entries = {"retries": str(retries)}
        if retries > 0:
            entries.update(
                {
                    "lastRetry.exitCode": exit_code,
                    "lastRetry.status": status,
                    "lastRetry.duration": duration,
                    "lastRetry.message": message,
                }
            )
        return self.child(entries)

    # --- step / task results ----------------------------------------------------------------

    def with_node_result(
        self,
        prefix: str,
        *,
        node_id: str = "",
        phase: str = "",
        exit_code: str | None = None,
        result: str | None = None,
        parameters: Mapping[str, str] | None = None,
        started_at: str = "",
        finished_at: str = "",
        host_node_name: str = "",
        ip: str = "",
    ) -> Scope:
        """Publish a finished step or task under `prefix` (`steps.<name>` or `tasks.<name>`)."""
        entries = {
            f"{prefix}.id": node_id,
            f"{prefix}.status": phase,
            f"{prefix}.startedAt": started_at,
            f"{prefix}.finishedAt": finished_at,
        }
        optional = {"hostNodeName": host_node_name, "ip": ip}
        entries.update({f"{prefix}.{k}": v for k, v in optional.items() if v})
        if exit_code is not None:
            entries[f"{prefix}.exitCode"] = exit_code
        if result is not None:
            entries[f"{prefix}.outputs.result"] = result
        for name, value in (parameters or {}).items():
            entries[f"{prefix}.outputs.parameters.{name}"] = value
        return self.child(entries)

    def with_aggregate(
        self,
        prefix: str,
        children: Iterable[tuple[str | None, Mapping[str, str]]],
        *,
        phase: str = "",
        node_id: str = "",
    ) -> Scope:
        """Publish an expanded loop's outputs (Argo's `processAggregateNodeOutputs`): `result` is
        a JSON list of the children's results (each decoded when it is JSON),
        `outputs.parameters` a JSON list of per-child `{name: value}` maps and
        `outputs.parameters.<p>` a JSON list of that parameter's values."""
        results: list[Any] = []
        parameter_maps: list[dict[str, str]] = []
        by_name: dict[str, list[str]] = {}
        for result, parameters in children:
            if parameters:
                parameter_maps.append(dict(parameters))
                for name, value in parameters.items():
                    by_name.setdefault(name, []).append(value)
            if result is not None:
                results.append(_decode_or_text(result))
        entries = {
            f"{prefix}.outputs.result": _json(results),
            f"{prefix}.outputs.parameters": _json(parameter_maps),
            f"{prefix}.status": phase,
            f"{prefix}.id": node_id,
        }
        for name, values in by_name.items():
            entries[f"{prefix}.outputs.parameters.{name}"] = _json(values)
        return self.child(entries)


def _decode_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def workflow_scope(
    *,
    name: str,
    namespace: str = "default",
    uid: str = "",
    service_account_name: str = "default",
    parameters: Iterable[Mapping[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    creation_timestamp: datetime | None = None,
    main_entrypoint: str = "",
    priority: int | None = None,
) -> Scope:
    """The global scope of a workflow run (`workflow.*`), as Argo's `setGlobalParameters`."""
    params = [dict(p) for p in parameters]
    entries: dict[str, str] = {
        "workflow.name": name,
        "workflow.namespace": namespace,
        "workflow.uid": uid,
        "workflow.serviceAccountName": service_account_name,
        "workflow.mainEntrypoint": main_entrypoint,
        "workflow.parameters": _json(params),
        "workflow.parameters.json": _json(params),
        "workflow.labels.json": _json(dict(labels or {})),
        "workflow.annotations.json": _json(dict(annotations or {})),
    }
    if priority is not None:
        entries["workflow.priority"] = str(priority)
    for param in params:
        if param.get("value") is not None:
            entries[f"workflow.parameters.{param['name']}"] = parameter_text(param["value"])
    entries.update({f"workflow.labels.{k}": v for k, v in (labels or {}).items()})
    entries.update({f"workflow.annotations.{k}": v for k, v in (annotations or {}).items()})
    scheduled = (annotations or {}).get(ANNOTATION_SCHEDULED_TIME)
    if scheduled is not None:
        # Argo's setGlobalParameters: only a run of a CronWorkflow has it, verbatim.
        entries["workflow.scheduledTime"] = scheduled
    entries.update(creation_timestamp_entries(creation_timestamp or datetime.now(UTC)))
    return Scope(entries)


def creation_timestamp_entries(moment: datetime) -> dict[str, str]:
    """`workflow.creationTimestamp` (RFC 3339, UTC, whole seconds) and its strftime parts
    (`.Y`, `.m`, `.d`, `.H`, `.M`, `.S`, ...), plus `.s` (Unix seconds) and `.RFC3339`."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = rfc3339(utc)
    key = "workflow.creationTimestamp"
    entries = {key: text, f"{key}.RFC3339": text, f"{key}.s": str(int(utc.timestamp()))}
    for letter in _STRFTIME_LETTERS:
        entries[f"{key}.{letter}"] = utc.strftime(f"%{letter}")
    return entries


def exit_handler_entries(
    *, status: str, failures: Iterable[Mapping[str, Any]] = (), duration_seconds: float = 0.0
) -> dict[str, str]:
    """What only an exit handler sees: `workflow.status`, `workflow.failures` and
    `workflow.duration` (seconds, Go's `%f`). The failures are a JSON list of `{displayName,
    message, templateName, phase, podName, finishedAt}` written as a quoted string, as Argo
    does (`strconv.Quote`, so its quotes survive substitution into JSON): decode it twice."""
    return {
        "workflow.status": status,
        "workflow.failures": json.dumps(_failures_json(failures), ensure_ascii=False),
        "workflow.duration": f"{duration_seconds:f}",
    }


def _failures_json(failures: Iterable[Mapping[str, Any]]) -> str:
    """Go's marshalling of Argo's `[]failedNodeStatus`: keys in the struct's field order (the
    order given here), and `null` for no failures (a nil slice)."""
    items = [
        "{" + ",".join(f"{_json(key)}:{_json(value)}" for key, value in dict(f).items()) + "}"
        for f in failures
    ]
    return "[" + ",".join(items) + "]" if items else "null"


def with_outputs(scope: Scope, parameters: Mapping[str, str]) -> Scope:
    """Add `workflow.outputs.parameters.<p>` for globally exported output parameters."""
    return scope.child({f"workflow.outputs.parameters.{k}": v for k, v in parameters.items()})
