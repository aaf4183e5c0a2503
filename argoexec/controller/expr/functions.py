"""The helpers Argo adds to expr-lang (`util/expr/env`): `asInt`, `asFloat`, `toJson`,
`jsonpath` and the `sprig` namespace; plus `expand_env` for flat, dotted variable maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .builtins import to_float, to_int
from .errors import EvalError
from .jsonpath import query
from .sprig import SPRIG
from .values import from_go_json, go_type, to_go_json


def to_json(value: Any) -> str:
    """Argo's `toJson`: Go `json.Marshal` (compact, sorted keys) — what `withParam` wants."""
    try:
        return to_go_json(value)
    except ValueError as exc:
        raise EvalError(f"toJson(): {exc}") from None


def jsonpath(document: Any, path: Any) -> Any:
    """Argo's `jsonpath(json, path)`. Upstream takes a JSON string; a decoded value is accepted
    too, since a step output may already have been parsed."""
    if not isinstance(path, str):
        raise EvalError(f"jsonpath(): path must be a string, not {go_type(path)}")
    if isinstance(document, str):
        try:
            document = from_go_json(document)
        except ValueError as exc:
            raise EvalError(f"jsonpath(): the document is not JSON: {exc}") from None
    return query(document, path)


ARGO_FUNCTIONS: dict[str, Any] = {
    "asInt": to_int,
    "asFloat": to_float,
    "toJson": to_json,
    "jsonpath": jsonpath,
    "sprig": SPRIG,
}


def expand_env(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Turn Argo's flat scope (`{"inputs.parameters.x": "1"}`) into the nested map expressions
    navigate (`inputs.parameters.x`). When a key is both a value and a prefix of longer keys
    (`inputs.parameters` holds all parameters as JSON), the nested map wins, as upstream."""
    root: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: k.count(".")):
        *parents, leaf = key.split(".")
        node = root
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(leaf), dict):
            node[leaf] = flat[key]
    return root
