"""The JSONPath subset behind Argo's `jsonpath(json, path)` helper.

Supported: `$`, `.name`, `['name']`, `[n]` (negative from the end), `[*]` / `.*`, `[a:b]`,
unions `[0,2]` / `['a','b']`, and recursive descent `..name`. A path without wildcards, slices,
unions or recursion yields one value (missing key or index is an error); otherwise a list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import EvalError
from .values import is_list

_NAME = re.compile(r"[A-Za-z0-9_$@\-]+")


@dataclass(frozen=True)
class _Step:
    kind: str  # "key", "index", "wild", "slice", "union", "descend"
    args: tuple[Any, ...] = ()


def _parse_bracket(body: str, path: str) -> _Step:
    body = body.strip()
    if body == "*":
        return _Step("wild")
    if body.startswith("?"):
        raise EvalError(f"jsonpath {path!r}: filter expressions are not supported")
    if ":" in body:
        parts = [p.strip() for p in body.split(":")]
        try:
            bounds = tuple(int(p) if p else None for p in parts[:2])
        except ValueError:
            raise EvalError(f"jsonpath {path!r}: invalid slice [{body}]") from None
        return _Step("slice", bounds)
    members = [m.strip() for m in body.split(",")]
    parsed: list[Any] = []
    for member in members:
        if len(member) >= 2 and member[0] == member[-1] and member[0] in "'\"":
            parsed.append(member[1:-1])
        elif re.fullmatch(r"-?[0-9]+", member):
            parsed.append(int(member))
        else:
            raise EvalError(f"jsonpath {path!r}: invalid selector [{body}]")
    if len(parsed) > 1:
        return _Step("union", tuple(parsed))
    return _Step("index" if isinstance(parsed[0], int) else "key", (parsed[0],))


def _parse(path: str) -> list[_Step]:
    text = path.strip()
    if not text.startswith("$"):
        raise EvalError(f"jsonpath {path!r}: a path must start with '$'")
    steps: list[_Step] = []
    i = 1
    while i < len(text):
        if text.startswith("..", i):
            steps.append(_Step("descend"))
            i += 2
            if text.startswith("[", i):
                continue
        elif text[i] == ".":
            i += 1
        elif text[i] != "[":
            raise EvalError(f"jsonpath {path!r}: unexpected {text[i]!r} at {i}")
        if text.startswith("[", i):
            end = text.find("]", i)
            if end < 0:
                raise EvalError(f"jsonpath {path!r}: unclosed '['")
            steps.append(_parse_bracket(text[i + 1 : end], path))
            i = end + 1
            continue
        if text.startswith("*", i):
            steps.append(_Step("wild"))
            i += 1
            continue
        match = _NAME.match(text, i)
        if not match:
            raise EvalError(f"jsonpath {path!r}: expected a name at {i}")
        steps.append(_Step("key", (match.group(),)))
        i = match.end()
    return steps


def _children(node: Any) -> list[Any]:
    if isinstance(node, Mapping):
        return [node[k] for k in sorted(node)]
    return list(node) if is_list(node) else []


def _descendants(node: Any) -> list[Any]:
    found = [node]
    for child in _children(node):
        found.extend(_descendants(child))
    return found


def _has(node: Any, selector: Any) -> bool:
    if isinstance(selector, str):
        return isinstance(node, Mapping) and selector in node
    return is_list(node) and -len(node) <= selector < len(node)


def _select(node: Any, step: _Step, strict: bool, path: str) -> list[Any]:
    if step.kind == "wild":
        return _children(node)
    if step.kind == "descend":
        return _descendants(node)
    if step.kind == "slice":
        if not is_list(node):
            return []
        start, end = step.args
        return list(node[start:end])
    selectors = step.args
    out: list[Any] = []
    for selector in selectors:
        if _has(node, selector):
            out.append(node[selector])
        elif strict:
            what = "key" if isinstance(selector, str) else "index"
            raise EvalError(f"jsonpath {path!r}: {what} {selector!r} not found")
    return out


def query(document: Any, path: str) -> Any:
    """Evaluate `path` over a decoded JSON `document`."""
    steps = _parse(path)
    definite = all(step.kind in ("key", "index") for step in steps)
    nodes = [document]
    for position, step in enumerate(steps):
        follows_descend = position > 0 and steps[position - 1].kind == "descend"
        nodes = [
            found
            for node in nodes
            for found in _select(node, step, definite and not follows_descend, path)
        ]
    return nodes[0] if definite else nodes
