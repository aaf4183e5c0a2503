"""Node field selectors, as `argo resume|stop|node set|retry --node-field-selector` take them:
Kubernetes' field-selector syntax (`k8s.io/apimachinery/pkg/fields: ParseSelector`) over the
fields Argo exposes per node (`workflow/util/util.go: SelectorMatchesNode`).

Syntax: terms joined by `,` (all must hold); a term is `key=value`, `key==value` or
`key!=value`, split at the first operator; in values `\\`, `\\,` and `\\=` escape a backslash,
comma and equals sign (an unescaped `,` or `=` in a value, or any other escape, is an error).
A field a node does not have reads as "" (so `templateRef.name=` matches nodes without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoexec.controller.render import template_of

_OPERATORS = ("!=", "==", "=")


class SelectorError(ValueError):
    """A node field selector that cannot be parsed."""


@dataclass(frozen=True)
class Term:
    field: str
    value: str
    equal: bool  # False for `!=`


@dataclass(frozen=True)
class FieldSelector:
    text: str
    terms: tuple[Term, ...]

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all((fields.get(t.field, "") == t.value) == t.equal for t in self.terms)

    def matches_node(self, node: dict[str, Any]) -> bool:
        return self.matches(node_fields(node))

    def __str__(self) -> str:
        return self.text


def parse(selector: str) -> FieldSelector:
    """Parse `selector`; SelectorError names the part not understood."""
    terms: list[Term] = []
    for part in sorted(_split_terms(selector)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(Term(lhs, _unescape(rhs), op != "!="))
    return FieldSelector(selector, tuple(terms))


def escape(value: str) -> str:
    """`value` for the right-hand side of a term (Kubernetes' `fields.EscapeValue`)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def node_fields(node: dict[str, Any]) -> dict[str, str]:
    """The fields a selector can test on a node (`SelectorMatchesNode`)."""
    fields = {
        "displayName": str(node.get("displayName") or ""),
        "templateName": template_of(node),
        "phase": str(node.get("phase") or ""),
        "name": str(node.get("name") or ""),
        "id": str(node.get("id") or ""),
    }
    ref = node.get("templateRef")
    if isinstance(ref, Mapping):
        fields["templateRef.name"] = str(ref.get("name") or "")
        fields["templateRef.template"] = str(ref.get("template") or "")
    inputs = node.get("inputs")
    if isinstance(inputs, Mapping):
        for param in inputs.get("parameters") or []:
            if isinstance(param, Mapping):
                value = param.get("value")
                text = "" if value is None else str(value)
                fields[f"inputs.parameters.{param.get('name')}.value"] = text
    return fields


def _split_terms(selector: str) -> list[str]:
    if not selector:
        return []
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, c in enumerate(selector):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {c}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)
