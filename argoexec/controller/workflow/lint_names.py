"""Name checks for ``argoexec lint``: the names Argo's validation and the Kubernetes API accept.

* ``metadata.name``: a Kubernetes object name (a lowercase RFC 1123 subdomain, at most 253
  characters), and for Argo at most 63 (a label value holds it). ``metadata.generateName``: such
  a name apart from a trailing ``-`` (the apiserver's rule for a prefix), of any length up to 253:
  the apiserver cuts it to 58 before it adds 5 random characters.
* template, step and task names: Argo's ``[a-zA-Z0-9][-a-zA-Z0-9]*``, at most 128 characters;
  a task name must not begin with a digit in a DAG that uses ``depends`` or ``dependencies``.
* parameter and artifact names (inputs, outputs, arguments): ``[-a-zA-Z0-9_]+``, given and
  unique within their list; a literal ``globalName`` too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argoexec.controller.workflow.problems import Problem, join

MAX_OBJECT_NAME = 253  # Kubernetes: a DNS subdomain
MAX_ARGO_NAME = 63  # Argo: workflows and (cluster) workflow templates
MAX_FIELD_NAME = 128  # Argo: template, step and task names
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
_PARAMETER_NAME = re.compile(r"[-a-zA-Z0-9_]+")
_SUBDOMAIN_RULE = (
    "a Kubernetes object name must consist of lowercase letters, digits, '-' and '.', and must"
    " start and end with a letter or digit"
)
_FIELD_RULE = (
    "name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric"
    " character (e.g. My-name1-2, 123-NAME)"
)
_PARAMETER_RULE = (
    "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-'"
    " e.g. my_param_1, MY-PARAM-1"
)
# What Argo calls each kind in its "must not be more than 63 characters" message.
_KIND_WORDS = {
    "Workflow": "workflow",
    "WorkflowTemplate": "workflow template",
    "ClusterWorkflowTemplate": "cluster workflow template",
}


def _subdomain_problem(name: str) -> str | None:
    if len(name) > MAX_OBJECT_NAME:
        return f"must be no more than {MAX_OBJECT_NAME} characters (has {len(name)})"
    if not SUBDOMAIN.fullmatch(name):
        return _SUBDOMAIN_RULE
    return None


def check_object_name(document: Mapping[str, Any], kind: str) -> list[Problem]:
    """``metadata.name`` and ``metadata.generateName`` of a ``kind`` document (a CronWorkflow's
    shorter limit is the CronWorkflow check's)."""
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return []
    problems: list[Problem] = []
    name, prefix = metadata.get("name"), metadata.get("generateName")
    if not name and not prefix:
        problems.append(Problem("metadata.name", "name or generateName is required"))
    if isinstance(name, str) and name:
        problem = _subdomain_problem(name)
        if problem:
            problems.append(Problem("metadata.name", f"invalid name {name!r}: {problem}"))
        elif kind in _KIND_WORDS and len(name) > MAX_ARGO_NAME:
            message = (
                f"{_KIND_WORDS[kind]} name {name!r} must not be more than {MAX_ARGO_NAME}"
                f" characters long (currently {len(name)})"
            )
            problems.append(Problem("metadata.name", message))
    if isinstance(prefix, str) and prefix:
        # The apiserver checks a prefix with its trailing dash masked by a letter.
        problem = _subdomain_problem(prefix[:-1] + "a" if prefix.endswith("-") else prefix)
        if problem:
            where = "metadata.generateName"
            problems.append(Problem(where, f"invalid name prefix {prefix!r}: {problem}"))
    return problems


def field_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a template, a step or a task (None if it can)."""
    if len(name) > MAX_FIELD_NAME:
        return f"{name[:20]!r}... is invalid: must be no more than {MAX_FIELD_NAME} characters"
    if not _FIELD_NAME.fullmatch(name):
        return f"{name!r} is invalid: {_FIELD_RULE}"
    return None


def check_named_list(items: Any, path: str) -> list[Problem]:
    """A list of parameters or artifacts at ``path``: each named, validly, once."""
    if not isinstance(items, list):
        return []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        where = join(join(path, index), "name")
        if name == "":
            problems.append(Problem(where, "name is required"))
        elif isinstance(name, str) and not _PARAMETER_NAME.fullmatch(name):
            problems.append(Problem(where, f"{name!r} is invalid: {_PARAMETER_RULE}"))
        elif isinstance(name, str) and name in seen:
            problems.append(Problem(where, f"{name!r} is not unique"))
        if isinstance(name, str):
            seen.add(name)
        global_name = item.get("globalName") if isinstance(item, dict) else None
        literal = isinstance(global_name, str) and global_name and "{{" not in global_name
        if literal and not _PARAMETER_NAME.fullmatch(str(global_name)):
            where = join(join(path, index), "globalName")
            problems.append(Problem(where, f"{global_name!r} is invalid: {_PARAMETER_RULE}"))
    return problems


def check_io_names(holder: Any, path: str) -> list[Problem]:
    """The parameter and artifact lists of ``holder`` (inputs, outputs or arguments)."""
    if not isinstance(holder, dict):
        return []
    problems: list[Problem] = []
    for kind in ("parameters", "artifacts"):
        problems += check_named_list(holder.get(kind), join(path, kind))
    return problems
