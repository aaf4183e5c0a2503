"""Field names and types of Argo's documents, checked against the vendored ``workflow.json``.

A small validator for the subset of JSON Schema that Argo's schema uses (``type``,
``properties``, ``additionalProperties``, ``items``, ``required``, ``const``, ``enum``,
``$ref``), with Kubernetes' strictness: an object whose properties are listed accepts no other
field. ``null`` is accepted everywhere, as Go's decoder leaves such a field unset.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from argoexec.controller.workflow.problems import Problem, join

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_ARTICLE = {"integer": "an integer", "object": "an object", "array": "a list"}


@cache
def _schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("workflow.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return "string " + json.dumps(value if len(value) <= 40 else value[:37] + "...")
    names = {int: "integer ", float: "number ", list: "a list", dict: "a mapping"}
    label = names.get(type(value))
    if label is None:
        return type(value).__name__
    return label + (str(value) if label.endswith(" ") else "")


def _has_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _PYTHON_TYPES[name])


class _Validator:
    def __init__(self, definitions: dict[str, Any]) -> None:
        self.definitions = definitions
        self.problems: list[Problem] = []

    def report(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def check(self, value: Any, node: dict[str, Any], path: str) -> None:
        while "$ref" in node:
            node = self.definitions[node["$ref"].rsplit("/", 1)[-1]]
        if value is None or not node:
            return
        wanted = node.get("type")
        if wanted is not None:
            names = wanted if isinstance(wanted, list) else [wanted]
            if not any(_has_type(value, name) for name in names):
                expected = " or ".join(_ARTICLE.get(name, f"a {name}") for name in names)
                self.report(path, f"wrong type: expected {expected}, got {_describe(value)}")
                return
        if "const" in node and value != node["const"]:
            self.report(path, f"must be {node['const']!r}, got {_describe(value)}")
        if "enum" in node and value not in node["enum"]:
            allowed = ", ".join(repr(item) for item in node["enum"])
            self.report(path, f"must be one of {allowed}, got {_describe(value)}")
        if isinstance(value, dict):
            self.check_object(value, node, path)
        elif isinstance(value, list) and "items" in node:
            for index, item in enumerate(value):
                self.check(item, node["items"], join(path, index))

    def check_object(self, value: dict[Any, Any], node: dict[str, Any], path: str) -> None:
        properties: dict[str, Any] = node.get("properties", {})
        extra = node.get("additionalProperties")
        for key, item in value.items():
            name = str(key)
            if name in properties:
                self.check(item, properties[name], join(path, name))
            elif isinstance(extra, dict):
                self.check(item, extra, join(path, name))
            elif properties:
                close = difflib.get_close_matches(name, list(properties), n=1)
                hint = f" (did you mean `{close[0]}`?)" if close else ""
                self.report(join(path, name), f"unknown field `{name}`{hint}")
        for name in node.get("required", ()):
            if value.get(name) is None:
                self.report(join(path, name), f"missing required field `{name}`")


def validate(document: dict[str, Any], kind: str) -> list[Problem]:
    """Problems with the field names and types of ``document`` (a ``kind`` document)."""
    schema = _schema()
    root = schema["roots"].get(kind)
    if root is None:
        return []
    validator = _Validator(schema["definitions"])
    validator.check(document, {"$ref": root}, "")
    return validator.problems
