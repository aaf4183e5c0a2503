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
from typing import Any

from argoexec.controller.expr import ExpressionError, evaluate_expr
from argoexec.models import Artifact


class DataError(Exception):
    """The data template could not be processed (the message is the node's)."""


def go_json(value: Any) -> str:
    """`json.Marshal` of a decoded value: compact, HTML characters escaped as Go does."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def source_artifact(spec: Mapping[str, Any]) -> Artifact:
    """The artifact of `source.artifactPaths` (DataError if the source is not one)."""
    source = spec.get("source") or {}
    paths = source.get("artifactPaths")
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
    for index, step in enumerate(steps or []):
        expression = str(step.get("expression") or "")
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
    return go_json(transform(spec.get("transformation"), keys))
