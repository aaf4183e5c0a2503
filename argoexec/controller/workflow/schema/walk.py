"""Decode a document against Argo's schema the way Argo's CLI decodes it into its Go types.

``argo lint`` and ``argo submit`` read documents with ``common.ParseObjects``: strict by default
(sigs.k8s.io/json's ``UnmarshalStrict``: a field name matches only exactly, an unknown field is
an error), or with ``--strict=false`` Go's ``encoding/json`` (a name matches a field
case-insensitively, an exact match preferred; an unknown field is dropped). Both modes refuse a
value of the wrong type, except where Argo's Go type reads more loosely: ``AnyString``
(parameter ``value``/``default``/``enum``/``description``, ``valueFrom.default``) takes a number or
a boolean as its text, ``IntOrString`` and ``Quantity`` take either, and a whole float fills an
integer field (YAML ``2.0`` becomes JSON ``2``). In strict mode an integer label or env value is
refused, as Argo v4 and Kubernetes refuse it; with ``--strict=false`` a number or boolean where
Argo's type is a string is read as its text, with a warning: what Argo's CLI did up to v3.x, whose
typed YAML decoding (sigs.k8s.io/yaml) converted such scalars, and what real workflows written
for it rely on.

The steps of a ``steps`` template go through Argo's own ``ParallelSteps.UnmarshalJSON`` in both
modes: a step's own keys must be exact (an unknown one is an error even with ``--strict=false``),
and everything inside a step is decoded by plain ``encoding/json`` even in strict mode.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from decimal import Decimal
from typing import Any

from argoexec.controller.workflow.problems import Problem, describe, join
from argoexec.controller.workflow.schema.trim import ANY_STRING

PARALLEL_STEPS = "io.argoproj.workflow.v1alpha1.ParallelSteps"
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
# What Go's strconv.Atoi reads: Argo turns an IntOrString's text into a number with it.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_ARTICLE = {"integer": "an integer", "object": "an object", "array": "a list"}
_STEP_NOTE = "a step's own fields must be exact, with or without --strict, as in Argo"
_IN_STEP_NOTE = "Argo reads what is inside a step leniently, even with --strict"


def any_string(value: bool | int | float) -> str:
    """Argo's ``AnyString`` of a YAML number or boolean: ``true``/``false``, or the number as Go's
    ``FormatFloat(f, 'f', -1, 64)`` writes the float64 it decodes to (``3``, ``1.5``, ``100``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        number = float(value)
    except OverflowError:  # too large for a float64: Go's YAML reader keeps such a literal text
        return str(value)
    return format(Decimal(repr(number)).normalize(), "f")


def fold(name: str) -> str:
    """Go's case folding of a field name (``bytes.EqualFold``): ASCII letters, the Kelvin sign
    (``str.lower`` folds it) and the long s, the only other runes that fold to ASCII letters."""
    return name.lower().replace("\u017f", "s")


def _key_text(key: Any) -> str:
    """A YAML key as Go's YAML-to-JSON step writes it (``1`` -> ``"1"``, ``true`` -> ``"true"``)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


def _fields(keys: list[str], properties: dict[str, Any], *, strict: bool) -> dict[str, str]:
    """The field each key sets: its own name, or (not strict) the field it matches
    case-insensitively, as Go's decoder does; unknown keys are left out."""
    folded = {fold(name): name for name in properties}
    fields: dict[str, str] = {}
    for key in keys:
        field = key if key in properties else None
        if field is None and not strict:
            field = folded.get(fold(key))
        if field is not None:
            fields[key] = field
    return fields


def _hint(key: str, properties: dict[str, Any]) -> str:
    """Which field an unknown key was probably meant to be."""
    same = [name for name in properties if fold(name) == fold(key)]
    if same:
        return f"field names are case-sensitive: `{same[0]}`"
    close = difflib.get_close_matches(key, list(properties), n=1)
    return f"did you mean `{close[0]}`?" if close else ""


def _has_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _PYTHON_TYPES[name])


class Walker:
    """One decoding pass: ``walk`` returns the decoded value and collects ``problems`` (what
    refuses the document) and ``warnings`` (what was renamed or dropped)."""

    def __init__(self, definitions: dict[str, Any], *, strict: bool) -> None:
        self.definitions = definitions
        self.strict = strict  # the document's mode; inside a step, Argo is lenient regardless
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def _resolve(self, node: dict[str, Any]) -> tuple[dict[str, Any], str]:
        name = ""
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = self.definitions[name]
        return node, name

    def walk(self, value: Any, node: dict[str, Any], path: str, *, strict: bool) -> Any:
        minimum = node.get("minimum")  # on the property, beside a `$ref` to IntOrString
        node, name = self._resolve(node)
        if value is None or not node:
            return value
        typed, value = self._typed(value, node, path)
        if not typed:  # reported; left out, as later checks expect Argo's types (or null)
            return None
        self._allowed(value, node, path)
        if minimum is not None:
            self._at_least(value, minimum, path)
        if isinstance(value, dict):
            return self._object(value, node, path, strict=strict)
        if not isinstance(value, list) or "items" not in node:
            return value
        items = node["items"]
        # Go decodes a null item of a list of structs as the empty struct, whose required
        # fields are then missing; so is it read here.
        value = [{} if v is None and self._is_struct(items) else v for v in value]
        if name == PARALLEL_STEPS:
            return [self._step(item, items, join(path, i)) for i, item in enumerate(value)]
        return [self.walk(v, items, join(path, i), strict=strict) for i, v in enumerate(value)]

    def _is_struct(self, node: dict[str, Any]) -> bool:
        resolved, _ = self._resolve(node)
        return bool(resolved.get("properties"))

    def _allowed(self, value: Any, node: dict[str, Any], path: str) -> None:
        if "const" in node and value != node["const"]:
            message = f"must be {node['const']!r}, got {describe(value)}"
            self.problems.append(Problem(path, message))
        if "enum" in node and value not in node["enum"]:
            allowed = ", ".join(repr(item) for item in node["enum"])
            self.problems.append(Problem(path, f"must be one of {allowed}, got {describe(value)}"))

    def _at_least(self, value: Any, minimum: int, path: str) -> None:
        """A count, limit or duration: a number not below ``minimum``; as an IntOrString, a
        string holding such an integer or an Argo variable (``{{...}}``, known when it runs)."""
        if isinstance(value, str):
            if "{{" in value:
                return
            if not _INTEGER.fullmatch(value):
                message = (
                    f"must be an integer or an Argo variable ({{{{...}}}}), got {describe(value)}"
                )
                self.problems.append(Problem(path, message))
                return
            value = int(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < minimum:
            least = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            self.problems.append(Problem(path, f"{least}, got {value}"))

    def _typed(self, value: Any, node: dict[str, Any], path: str) -> tuple[bool, Any]:
        """Whether ``value`` has the node's type, and the value as Argo's Go type reads it."""
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(Problem(path, f"{value} has no JSON form: Argo cannot read it"))
            return False, value
        wanted = node.get("type")
        if wanted is None:
            return True, value
        names = wanted if isinstance(wanted, list) else [wanted]
        if node.get(ANY_STRING) and isinstance(value, bool | int | float):
            return True, any_string(value)
        if isinstance(value, float) and value.is_integer() and "integer" in names:
            value = int(value) if abs(value) < 2**63 else value  # Go's int64 holds it
        if any(_has_type(value, name) for name in names):
            return True, value
        expected = " or ".join(_ARTICLE.get(name, f"a {name}") for name in names)
        scalar = isinstance(value, bool | int | float)
        if "string" in names and scalar and not self.strict:
            text = any_string(value)
            self._warn(path, f"{describe(value)} read as the string {json.dumps(text)}")
            return True, text
        hint = " (quote it, or run with --strict=false)" if names == ["string"] and scalar else ""
        self.problems.append(
            Problem(path, f"wrong type: expected {expected}, got {describe(value)}{hint}")
        )
        return False, value

    def _object(
        self, value: dict[Any, Any], node: dict[str, Any], path: str, *, strict: bool
    ) -> dict[str, Any]:
        properties: dict[str, Any] = node.get("properties", {})
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):  # a map: its keys are data, kept verbatim
            return {
                _key_text(key): self.walk(item, extra, join(path, _key_text(key)), strict=strict)
                for key, item in value.items()
            }
        if not properties and extra is not False:  # free-form (an item, a plugin)
            return value
        items = [(_key_text(key), item) for key, item in value.items()]
        fields = _fields([key for key, _ in items], properties, strict=strict)
        decoded: dict[str, Any] = {}
        for key, _ in items:  # in the document's order, so findings come in reading order
            field = fields.get(key)
            if field is None:
                self._unknown(key, properties, join(path, key), strict=strict)
            elif field not in decoded:
                entries = [entry for entry in items if fields.get(entry[0]) == field]
                decoded[field] = self._field(field, entries, properties[field], path, strict=strict)
        for name in node.get("required", ()):
            if decoded.get(name) is None:
                self.problems.append(Problem(join(path, name), f"missing required field `{name}`"))
        return decoded

    def _field(
        self,
        field: str,
        entries: list[tuple[str, Any]],
        node: dict[str, Any],
        path: str,
        *,
        strict: bool,
    ) -> Any:
        """One field from the keys that set it. Several keys (``entrypoint``, ``Entrypoint``) are
        taken in Go's order: its YAML-to-JSON step sorts a mapping's keys and its decoder
        decodes each into the same field in turn, so objects merge field by field and anything
        else is replaced by the later key."""
        entries = sorted(entries, key=lambda entry: entry[0])
        values = []
        for key, item in entries:
            if key != field:
                self._warn(join(path, key), f"`{key}` read as `{field}`")
            values.append(self.walk(item, node, join(path, key), strict=strict))
        result = values[0]
        for later in values[1:]:
            result = self._merge(result, later, node)
        if len(values) > 1:
            keys = ", ".join(f"`{key}`" for key, _ in entries)
            outcome = "merged" if isinstance(result, dict) else f"`{entries[-1][0]}` wins"
            self._warn(join(path, field), f"{keys} all set `{field}`, in this order: {outcome}")
        return result

    def _unknown(self, key: str, properties: dict[str, Any], path: str, *, strict: bool) -> None:
        hint = _hint(key, properties)
        if strict:
            message = f"unknown field `{key}`" + (f" ({hint})" if hint else "")
            self.problems.append(Problem(path, message, strict_only=True))
        else:
            self._warn(path, f"unknown field `{key}` dropped" + (f" ({hint})" if hint else ""))

    def _warn(self, path: str, message: str) -> None:
        note = f" ({_IN_STEP_NOTE})" if self.strict else ""
        self.warnings.append(Problem(path, message + note))

    def _merge(self, earlier: Any, later: Any, node: dict[str, Any]) -> Any:
        node, _ = self._resolve(node)
        properties = node.get("properties")
        if not (isinstance(earlier, dict) and isinstance(later, dict)):
            return later
        if properties:  # a struct: decoding again sets only the fields given
            merged = dict(earlier)
            for name, item in later.items():
                known = name in earlier and name in properties
                merged[name] = self._merge(earlier[name], item, properties[name]) if known else item
            return merged
        if isinstance(node.get("additionalProperties"), dict):  # a map: entry by entry
            return {**earlier, **later}
        return later

    def _step(self, step: Any, node: dict[str, Any], path: str) -> Any:
        """One step of a ``steps`` template, as Argo's ``ParallelSteps.UnmarshalJSON`` reads it:
        its keys checked exactly in both modes, its contents decoded leniently."""
        definition, _ = self._resolve(node)
        if not isinstance(step, dict):
            return self.walk(step, node, path, strict=False)
        properties: dict[str, Any] = definition.get("properties", {})
        for raw_key in step:
            key = _key_text(raw_key)
            if key not in properties:
                hint = _hint(key, properties)
                message = f"unknown field `{key}`" + (f" ({hint})" if hint else "")
                message += f": {_STEP_NOTE}"
                self.problems.append(Problem(join(path, key), message))
        exact = {key: item for key, item in step.items() if _key_text(key) in properties}
        return self.walk(exact, node, path, strict=False)
