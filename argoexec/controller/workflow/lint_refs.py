"""Reference checks for ``argoexec lint``: ``{{inputs...}}`` and ``{{workflow.parameters...}}``
tags must name something that exists, as Argo's validation (``resolveAllVariables``) requires
(``failed to resolve {{inputs.parameters.nope}}``).

Where Argo looks, and so where this looks: the whole of a template that is not steps or DAG;
in a steps or DAG template, each step or task (without its inline template, checked as a
template of its own), the DAG's ``target`` and the template's ``outputs``. A step's or task's
inline template adds its inputs to what that step may use. ``{{inputs.parameters.X}}``,
``{{inputs.parameters}}`` (when there are any), ``{{inputs.artifacts.X}}`` and, in a template
that runs a pod, ``{{inputs.artifacts.X.path}}`` resolve. ``{{workflow.parameters.X}}``
(``{{workflow.parameters}}``, ``{{workflow.parameters.json}}``) must name a workflow argument,
except in a WorkflowTemplate checked on its own, whose workflow is not known. Expression tags
(``{{= ...}}``) are not looked into, as in Argo.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from argoexec.controller.workflow.lint_expr import strings
from argoexec.controller.workflow.problems import Problem, join

_TAG = re.compile(r"\{\{([^{}]*)\}\}")  # innermost tags: `{{steps.{{inputs.parameters.s}}...}}`
# Argo's leaf templates (Template.IsLeaf): the kinds that run a pod or an agent.
_LEAF_KINDS = ("container", "containerSet", "script", "resource", "data", "http", "plugin")
_WORKFLOW_PARAMETERS = "workflow.parameters"


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(names)) or "none"


def _names(holder: Any, kind: str) -> list[str]:
    items = holder.get(kind) if isinstance(holder, dict) else None
    if not isinstance(items, list):
        return []
    return [
        item["name"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]


class _Scope:
    """The ``inputs`` a string may refer to, and the workflow's parameters (None: not known)."""

    def __init__(self, inputs: Any, label: str, *, leaf: bool, workflow: set[str] | None) -> None:
        self.parameters = set(_names(inputs, "parameters"))
        self.artifacts = set(_names(inputs, "artifacts"))
        self.label = label
        self.leaf = leaf
        self.workflow = workflow

    def widened(self, inputs: Any) -> _Scope:
        """The scope of a step or task with an inline template: its inputs are usable too."""
        label = f"{self.label} (nor its inline template)" if inputs else self.label
        scope = _Scope(None, label, leaf=self.leaf, workflow=self.workflow)
        scope.parameters = self.parameters | set(_names(inputs, "parameters"))
        scope.artifacts = self.artifacts | set(_names(inputs, "artifacts"))
        return scope

    def problem(self, tag: str) -> str | None:
        """Why ``tag`` does not resolve (None if it does, or is not ours to check)."""
        if tag.startswith("inputs."):
            return self._input(tag[len("inputs.") :])
        if self.workflow is not None and (
            tag == _WORKFLOW_PARAMETERS or tag.startswith(_WORKFLOW_PARAMETERS + ".")
        ):
            return self._workflow_parameter(tag[len(_WORKFLOW_PARAMETERS) + 1 :])
        return None

    def _input(self, rest: str) -> str | None:
        kind, _, name = rest.partition(".")
        if kind == "parameters" and (name in self.parameters or (not name and self.parameters)):
            return None
        if kind == "artifacts":
            artifact, _, field = name.partition(".")
            if artifact in self.artifacts and (not field or (field == "path" and self.leaf)):
                return None
            if artifact in self.artifacts:
                return "an input artifact has a path only in a template that runs a pod"
            listed = _listed(self.artifacts)
            return f"{self.label} has no input artifact `{artifact}` (inputs.artifacts: {listed})"
        if kind == "parameters":
            what = f"input parameter `{name}`" if name else "input parameters"
            return f"{self.label} has no {what} (inputs.parameters: {_listed(self.parameters)})"
        return "inputs has only `parameters` and `artifacts`"

    def _workflow_parameter(self, name: str) -> str | None:
        assert self.workflow is not None
        if name in self.workflow or (name in ("", "json") and self.workflow):
            return None
        what = "workflow arguments" if name in ("", "json") else f"workflow argument `{name}`"
        return f"no {what} (spec.arguments.parameters: {_listed(self.workflow)})"


def _check(node: Any, path: str, scope: _Scope) -> list[Problem]:
    problems: list[Problem] = []
    for where, _, text in strings(node, path):
        for match in _TAG.finditer(text):
            tag = match.group(1).strip()
            if tag.startswith("="):
                continue
            reason = scope.problem(tag)
            if reason:
                problems.append(Problem(where, f"failed to resolve {{{{{tag}}}}}: {reason}"))
    return problems


def _without(node: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}


def _calls(template: dict[str, Any], path: str) -> Iterable[tuple[Any, str]]:
    """The steps or tasks of a steps or DAG template, with their paths."""
    steps = template.get("steps")
    if isinstance(steps, list):
        for i, group in enumerate(steps):
            if isinstance(group, list):
                for j, step in enumerate(group):
                    yield step, join(join(join(path, "steps"), i), j)
    dag = template.get("dag")
    tasks = dag.get("tasks") if isinstance(dag, dict) else None
    if isinstance(tasks, list):
        for index, task in enumerate(tasks):
            yield task, join(join(join(path, "dag"), "tasks"), index)


def check_references(
    template: dict[str, Any], path: str, label: str, workflow_parameters: set[str] | None
) -> list[Problem]:
    """Tags in ``template`` (at ``path``, called ``label`` in messages) that name inputs it
    does not have, or workflow parameters not in ``workflow_parameters`` (None: not known,
    not checked)."""
    leaf = any(template.get(kind) is not None for kind in _LEAF_KINDS)
    scope = _Scope(template.get("inputs"), label, leaf=leaf, workflow=workflow_parameters)
    if template.get("steps") is None and template.get("dag") is None:
        return _check(template, path, scope)
    problems: list[Problem] = []
    for call, where in _calls(template, path):
        if isinstance(call, dict):
            inline = call.get("inline")
            inputs = inline.get("inputs") if isinstance(inline, dict) else None
            problems += _check(_without(call, "inline"), where, scope.widened(inputs))
    dag = template.get("dag")
    if isinstance(dag, dict):
        problems += _check({"target": dag.get("target")}, join(path, "dag"), scope)
    problems += _check({"outputs": template.get("outputs")}, path, scope)
    return problems
