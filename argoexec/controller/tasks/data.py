"""A `data` template's work, as Argo's `argoexec data` does it (workflow/data/data.go,
workflow/executor/data.go): the source, then each transformation step, then the result as
JSON (`outputs.result`).

- `source.artifactPaths`: an artifact whose location is listed through its driver's
  `list_objects` (every key under its key, recursively; a key-only artifact takes the
  repository's location, as input artifacts do); the data is that list of keys.
- `transformation`: steps in order, each an `expression` in expr-lang over `data` (e.g.
  `filter(data, {# endsWith "main.log"})`, `map(data, {"s3://bucket/" + #})`).
- The result: the data as Go's `json.Marshal` writes it (compact; `<`, `>`, `&` escaped).

Errors read as Argo's: "unable to process data template: unable to process data source: ...",
"... unable to process data transformation: error processing data step N: ...".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from argoexec.controller.expr import ExpressionError, evaluate_expr
from argoexec.controller.expr.sprig_time import go_format
from argoexec.controller.expr.values import go_type
from argoexec.models import Artifact


class DataError(Exception):
    """The data template could not be processed (the message is the node's)."""


RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"  # how Go's json.Marshal writes a time


def _go_value(value: Any) -> Any:
    """What Go marshals for values JSON has no type for: a time (`now()`) as RFC 3339 text;
    anything else (a duration, a function) is refused, as json.Marshal refuses a func."""
    if isinstance(value, datetime):
        return go_format(value, RFC3339_NANO)
    raise TypeError(f"json: unsupported type: {go_type(value)}")


def go_json(value: Any) -> str:
    """`json.Marshal` of a decoded value: compact, HTML characters escaped as Go does.
    TypeError for a value Go would not marshal."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_go_value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def source_artifact(spec: Mapping[str, Any]) -> Artifact:
    """The artifact of `source.artifactPaths` (DataError if the source is not one)."""
    source = spec.get("source") or {}
    paths = source.get("artifactPaths") if isinstance(source, Mapping) else None
    if paths is None:
        raise DataError(
            "unable to process data template: unable to process data source: "
            "no valid source is used for data template"
        )
    try:
        return Artifact.model_validate(paths)
    except ValueError as exc:
        raise DataError(
            f"unable to process data template: source.artifactPaths is not an artifact: {exc}"
        ) from None


def transform(steps: list[Mapping[str, Any]] | None, data: Any) -> Any:
    """Each step's `expression` applied to `data` in turn (Argo's processTransformation)."""
    if steps is not None and not isinstance(steps, list):
        raise DataError("unable to process data template: transformation is not a list")
    for index, step in enumerate(steps or []):
        expression = str(step.get("expression") or "") if isinstance(step, Mapping) else ""
        if not expression:
            continue
        try:
            data = evaluate_expr(expression, {"data": data})
        except ExpressionError as exc:
            raise DataError(
                "unable to process data template: unable to process data transformation: "
                f"error processing data step {index}: {exc}"
            ) from None
    return data


def process_data(spec: Mapping[str, Any], list_keys: Callable[[Artifact], list[str]]) -> str:
    """The data template `spec` processed: its `outputs.result` (JSON). `list_keys` lists an
    artifact's keys (the driver's `list_objects`); its errors are named as the source's."""
    artifact = source_artifact(spec)
    try:
        keys: Any = list(list_keys(artifact))
    except Exception as exc:
        raise DataError(
            "unable to process data template: unable to process data source: "
            f"unable to source artifact paths: {exc}"
        ) from exc
    data = transform(spec.get("transformation"), keys)
    try:
        return go_json(data)
    except (TypeError, ValueError) as exc:  # ValueError: a list that contains itself
        raise DataError(f"unable to process data template: {exc}") from None
