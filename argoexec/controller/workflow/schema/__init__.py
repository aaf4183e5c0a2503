"""Field names and types of Argo's documents, checked against the vendored ``workflow.json``.

A small decoder for the subset of JSON Schema that Argo's schema uses (``type``,
``properties``, ``additionalProperties``, ``items``, ``required``, ``const``, ``enum``,
``$ref``, and the ``minimum`` that :mod:`.trim` adds), with Kubernetes' strictness: an object
whose properties are listed accepts no other field. ``null`` is accepted everywhere, as Go's
decoder leaves such a field unset (a ``null`` item of a list of objects is an empty object). A
value of the wrong type is reported and left out of the decoded document, so the checks that
follow see only Argo's types. How each mode reads a document, and why, is in :mod:`.walk`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from argoexec.controller.workflow.problems import Problem
from argoexec.controller.workflow.schema.walk import Walker

__all__ = ["Decoded", "decode", "validate"]


@cache
def _schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("workflow.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass
class Decoded:
    """A document as Argo's Go types hold it, what refuses it, and what was changed on the way
    (renamed or dropped fields, with their YAML paths)."""

    document: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def decode(document: dict[str, Any], kind: str, *, strict: bool = True) -> Decoded:
    """``document`` (a ``kind`` document) decoded as ``argo submit --strict=<strict>`` reads it.
    A kind without a schema is returned as it is."""
    schema = _schema()
    root = schema["roots"].get(kind)
    if root is None:
        return Decoded(document)
    walker = Walker(schema["definitions"], strict=strict)
    decoded = walker.walk(document, {"$ref": root}, "", strict=strict)
    return Decoded(decoded, walker.problems, walker.warnings)


def validate(document: dict[str, Any], kind: str) -> list[Problem]:
    """Problems with the field names and types of ``document`` (a ``kind`` document), read
    strictly."""
    return decode(document, kind).problems
