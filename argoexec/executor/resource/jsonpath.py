"""kubectl's JSONPath output templates (``-o jsonpath=...``), evaluated in-process.

A template is literal text with ``{…}`` actions: ``{.status.phase}``, ``{.items[*].metadata.name}``,
``{.spec.containers[0].image}``, ``{.metadata.labels['app\\.kubernetes\\.io/name']}`` (or
``['app.kubernetes.io/name']``), ``{..name}`` (recursive), ``{.items[-1:]}`` (slices),
``{.items[?(@.status == "Ready")].name}`` (filters with ``== != < > <= >=`` or bare existence),
``{.a,.b}`` (unions), ``{"\\n"}`` (quoted text) and ``$``/``@``. Output follows kubectl: several
results of one action are separated by a space, maps and lists print as compact JSON with sorted
keys, strings raw, numbers and booleans as Go prints them, and a missing key prints nothing.
``{range}…{end}`` is not supported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class JSONPathError(ValueError):
    """The template does not parse."""


@dataclass(frozen=True)
class _Step:
    kind: str  # field, fields, index, slice, wildcard, filter
    recursive: bool = False
    names: tuple[str, ...] = ()
    indices: tuple[int, ...] = ()
    bounds: tuple[int | None, int | None, int | None] = (None, None, None)
    filter: tuple[list[_Step] | None, str, Any, list[_Step] | None] | None = None


def render(template: str, obj: Any) -> str:
    """``template`` applied to ``obj``, as ``kubectl get -o jsonpath=<template>`` prints it."""
    out: list[str] = []
    for is_action, text in _split(template):
        if not is_action:
            out.append(text)
            continue
        results: list[Any] = []
        for expr in _top_level(text, ","):
            results += _evaluate(expr.strip(), obj)
        out.append(" ".join(_text(v) for v in results))
    return "".join(out)


def _split(template: str) -> Iterator[tuple[bool, str]]:
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            yield False, template[pos:]
            return
        if start > pos:
            yield False, template[pos:start]
        end = _closing(template, start, "{", "}")
        yield True, template[start + 1 : end]
        pos = end + 1


def _closing(text: str, start: int, open_: str, close: str) -> int:
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        elif ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError(f"unclosed {open_!r} in {text!r}")


def _top_level(text: str, sep: str) -> list[str]:
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return parts


def _evaluate(expr: str, obj: Any) -> list[Any]:
    if expr[:1] in "'\"" and expr[-1:] == expr[:1] and len(expr) >= 2:
        return [_unquote(expr)]
    if expr in ("range", "end") or expr.startswith("range "):
        raise JSONPathError("{range}…{end} is not supported")
    nodes = [obj]
    for step in _parse(expr):
        nodes = [found for node in nodes for found in _apply(step, node)]
    return nodes


def _unquote(text: str) -> str:
    body = text[1:-1]
    try:
        decoded: str = json.loads(f'"{body}"')
        return decoded
    except ValueError:
        return body


def _parse(expr: str) -> list[_Step]:
    steps: list[_Step] = []
    pos = 1 if expr[:1] in "$@" else 0
    while pos < len(expr):
        recursive = expr.startswith("..", pos)
        if recursive or expr[pos] == ".":
            pos += 2 if recursive else 1
        if pos < len(expr) and expr[pos] == "[":
            end = _closing(expr, pos, "[", "]")
            steps.append(_bracket(expr[pos + 1 : end].strip(), recursive))
            pos = end + 1
            continue
        match = re.compile(r"(\\.|[^.\[])*").match(expr, pos)
        name = match.group(0) if match else ""
        if not name:
            raise JSONPathError(f"unexpected {expr[pos:]!r} in {expr!r}")
        pos += len(name)
        if name == "*":
            steps.append(_Step("wildcard", recursive))
        else:
            steps.append(_Step("field", recursive, names=(re.sub(r"\\(.)", r"\1", name),)))
    return steps


def _bracket(inner: str, recursive: bool) -> _Step:
    if inner == "*":
        return _Step("wildcard", recursive)
    if inner.startswith("?(") and inner.endswith(")"):
        return _Step("filter", recursive, filter=_condition(inner[2:-1].strip()))
    parts = [p.strip() for p in _top_level(inner, ",")]
    if all(p[:1] in "'\"" and p[-1:] == p[:1] and len(p) >= 2 for p in parts):
        return _Step("fields", recursive, names=tuple(p[1:-1] for p in parts))
    if ":" in inner:
        bounds = [int(b) if b.strip() else None for b in inner.split(":")]
        if len(bounds) > 3:
            raise JSONPathError(f"bad slice [{inner}]")
        start, stop, step = [*bounds, None, None][:3]
        return _Step("slice", recursive, bounds=(start, stop, step))
    try:
        return _Step("index", recursive, indices=tuple(int(p) for p in parts))
    except ValueError:
        raise JSONPathError(f"bad subscript [{inner}]") from None


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def _condition(text: str) -> tuple[list[_Step] | None, str, Any, list[_Step] | None]:
    for op in ("==", "!=", "<=", ">=", "<", ">"):
        left, found, right = text.partition(op)
        if found:
            lhs, rhs = left.strip(), right.strip()
            return (
                _operand_path(lhs),
                op,
                _literal(rhs) if _operand_path(rhs) is None else None,
                _operand_path(rhs),
            )
    path = _operand_path(text)
    if path is None:
        raise JSONPathError(f"bad filter ?({text})")
    return path, "exists", None, None


def _operand_path(text: str) -> list[_Step] | None:
    return _parse(text) if text[:1] in "@$" else None


def _literal(text: str) -> Any:
    if text[:1] in "'\"" and text[-1:] == text[:1] and len(text) >= 2:
        return text[1:-1]
    if _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    if text in ("true", "false"):
        return text == "true"
    raise JSONPathError(f"bad literal {text!r} in a filter")


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [node[k] for k in sorted(node)]
    return list(node) if isinstance(node, list) else []


def _descendants(node: Any) -> Iterator[Any]:
    yield node
    for child in _children(node):
        yield from _descendants(child)


def _apply(step: _Step, node: Any) -> list[Any]:
    targets = list(_descendants(node)) if step.recursive else [node]
    return [found for target in targets for found in _select(step, target)]


def _select(step: _Step, node: Any) -> list[Any]:
    if step.kind in ("field", "fields"):
        return [node[n] for n in step.names if n in node] if isinstance(node, dict) else []
    if step.kind == "wildcard":
        return _children(node)
    if not isinstance(node, list):
        return []
    if step.kind == "index":
        return [node[i] for i in step.indices if -len(node) <= i < len(node)]
    if step.kind == "slice":
        return node[slice(*step.bounds)]
    assert step.filter is not None
    return [item for item in node if _keep(step.filter, item)]


def _keep(cond: tuple[list[_Step] | None, str, Any, list[_Step] | None], item: Any) -> bool:
    left_path, op, literal, right_path = cond
    left = _values(left_path, item)
    if op == "exists":
        return bool(left)
    right = _values(right_path, item) if right_path is not None else [literal]
    if not left or not right:
        return False
    try:
        return _OPS[op](left[0], right[0])
    except TypeError:
        return False


def _values(path: list[_Step] | None, item: Any) -> list[Any]:
    nodes = [item]
    for step in path or []:
        nodes = [found for node in nodes for found in _apply(step, node)]
    return nodes


def _text(value: Any) -> str:
    """One result as kubectl prints it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    return go_json(value)


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest form, exponent from 1e21 up."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text and abs(value) >= 1e21:
        text = f"{value:e}"
    return text


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it: sorted keys, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
