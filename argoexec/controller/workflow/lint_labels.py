"""Label and annotation checks for ``argoexec lint``: what the Kubernetes API server refuses in
an object's ``metadata`` when it is created (a Workflow, a template, a CronWorkflow), with its
messages (apimachinery's ``ValidateLabels`` and ``ValidateAnnotations``).

* a key is a qualified name: an optional prefix (a DNS subdomain, at most 253 characters) and
  ``/``, then a name of at most 63 characters, alphanumeric at both ends, with ``-``, ``_`` and
  ``.`` between;
* a label value is empty or such a name (at most 63 characters);
* annotations (keys as labels, any values) hold at most 256 KiB in all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argoexec.controller.workflow.lint_names import SUBDOMAIN
from argoexec.controller.workflow.problems import Problem

MAX_NAME = 63
MAX_PREFIX = 253
MAX_ANNOTATIONS_BYTES = 256 * 1024
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character"
)


def _name_problem(name: str) -> str | None:
    if not name:
        return "name part must be non-empty"
    if len(name) > MAX_NAME:
        return f"name part must be no more than {MAX_NAME} characters"
    if not _NAME.fullmatch(name):
        return f"name part {_NAME_RULE}"
    return None


def key_problem(key: str) -> str | None:
    """What is wrong with a label or annotation key (None: nothing)."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if prefix and (len(prefix) > MAX_PREFIX or not SUBDOMAIN.fullmatch(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    return _name_problem(name)


def value_problem(value: str) -> str | None:
    """What is wrong with a label value (None: nothing)."""
    if not value:
        return None
    if len(value) > MAX_NAME:
        return f"must be no more than {MAX_NAME} characters"
    return None if _NAME.fullmatch(value) else _NAME_RULE


def check_metadata_labels(document: Mapping[str, Any]) -> list[Problem]:
    """The labels and annotations of an object's `metadata`."""
    metadata, path = document.get("metadata"), "metadata"
    if not isinstance(metadata, Mapping):
        return []
    problems: list[Problem] = []
    labels = metadata.get("labels")
    for key, value in (labels or {}).items() if isinstance(labels, Mapping) else ():
        where = f"{path}.labels.{key}"
        problem = key_problem(str(key))
        if problem:
            problems.append(Problem(where, f"invalid label key {str(key)!r}: {problem}"))
        shown = "" if value is None else str(value)
        problem = value_problem(shown)
        if problem:
            problems.append(Problem(where, f"invalid label value {shown[:80]!r}: {problem}"))
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        size = 0
        for key, value in annotations.items():
            size += len(str(key)) + len("" if value is None else str(value))
            problem = key_problem(str(key))
            if problem:
                where = f"{path}.annotations.{key}"
                problems.append(Problem(where, f"invalid annotation key {str(key)!r}: {problem}"))
        if size > MAX_ANNOTATIONS_BYTES:
            message = f"may not have more than {MAX_ANNOTATIONS_BYTES} bytes in all (has {size})"
            problems.append(Problem(f"{path}.annotations", message))
    return problems
