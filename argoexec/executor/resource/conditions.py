"""Success/failure conditions: Kubernetes label-selector syntax over JSON paths (contract §6).

``status.phase == Succeeded, status.succeeded > 0`` is two requirements (comma = AND). Keys are
gjson-style dotted paths into the live object (``items.0.name``, ``metadata.labels.app``; ``#``
is an array's length); values compare as strings, numbers by their JSON text, ``>``/``<`` as
base-10 integers. Absent keys match only ``!=``, ``notin`` and ``!key``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MISSING = object()
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_KEY = re.compile(r"^[A-Za-z0-9#_.\-/\\*?@|]+$")
_OPERATORS = ("==", "!=", "=", ">", "<")


class ConditionError(ValueError):
    """The condition does not parse."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        return f"{self.key}{self.operator}{self.values[0]}"

    def matches(self, obj: Any) -> bool:
        found = lookup(obj, self.key)
        if found is _MISSING:
            return self.operator in ("!=", "notin", "!")
        return _TESTS[self.operator](as_text(found), self.values)


def _compare_ints(left: str, right: str, operator: str) -> bool:
    try:
        a, b = int(left, 10), int(right, 10)
    except ValueError:
        return False
    return a > b if operator == ">" else a < b


_TESTS: dict[str, Callable[[str, tuple[str, ...]], bool]] = {
    "exists": lambda _text, _values: True,
    "!": lambda _text, _values: False,
    "=": lambda text, values: text == values[0],
    "!=": lambda text, values: text != values[0],
    "in": lambda text, values: text in values,
    "notin": lambda text, values: text not in values,
    ">": lambda text, values: _compare_ints(text, values[0], ">"),
    "<": lambda text, values: _compare_ints(text, values[0], "<"),
}


def as_text(value: Any) -> str:
    """A JSON value as gjson's ``String()``: strings raw, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def lookup(obj: Any, path: str) -> Any:
    """The value at a gjson dotted path, or ``_MISSING``. ``\\.`` escapes a literal dot."""
    parts = [p.replace("\x00", ".") for p in path.replace("\\.", "\x00").split(".")]
    current = obj
    for part in parts:
        if isinstance(current, list):
            if part == "#":
                current = len(current)
            elif part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return _MISSING
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def parse(selector: str) -> list[Requirement]:
    """Parse a selector into requirements; an empty selector has none."""
    return [_parse_one(part.strip()) for part in _split_top(selector) if part.strip()]


def _split_top(selector: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y), b=c`` is two requirements)."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _parse_one(text: str) -> Requirement:
    set_form = re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", text)
    if set_form:
        key, op, raw = set_form.groups()
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        return _checked(Requirement(key, op, values))
    if text.startswith("!"):
        return _checked(Requirement(text[1:].strip(), "!"))
    for op in _OPERATORS:
        if op in text:
            key, _, value = text.partition(op)
            operator = "=" if op == "==" else op
            return _checked(Requirement(key.strip(), operator, (value.strip(),)))
    return _checked(Requirement(text, "exists"))


def _checked(req: Requirement) -> Requirement:
    if not req.key or not _KEY.match(req.key):
        raise ConditionError(f"invalid key {req.key!r}")
    for value in req.values:
        if len(value) > 63 or not _VALUE.match(value):
            raise ConditionError(f"invalid value {value!r}: at most 63 of [A-Za-z0-9_.-]")
    if req.operator in (">", "<"):
        try:
            int(req.values[0], 10)
        except ValueError as exc:
            raise ConditionError(f"{req.operator} needs an integer, got {req.values[0]!r}") from exc
    if req.operator in ("in", "notin") and not req.values:
        raise ConditionError(f"{req.operator} needs at least one value")
    return req


@dataclass(frozen=True)
class Verdict:
    done: bool
    failed: bool
    message: str


def evaluate(obj: Any, success: list[Requirement], failure: list[Requirement]) -> Verdict:
    """Any failure requirement alone fails; all success requirements together succeed.

    With no success requirements, the first poll that matches no failure requirement succeeds
    (Argo's behaviour, quirk 5): there is nothing else to wait for, and templates that only
    guard against failure rely on it.
    """
    for req in failure:
        if req.matches(obj):
            return Verdict(True, True, f"failure condition '{req}' evaluated true")
    if all(req.matches(obj) for req in success):
        return Verdict(True, False, "success condition matched")
    waiting = "Neither success condition nor the failure condition has been matched. Retrying..."
    return Verdict(False, False, waiting)
