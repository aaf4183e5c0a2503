"""Template checks for ``argoexec lint``: kinds, names, references, steps and DAGs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from argoexec.controller.engine.depends import find_cycle
from argoexec.controller.workflow.errors import TemplateReferenceError
from argoexec.controller.workflow.lint_dag import task_dependencies
from argoexec.controller.workflow.lint_expr import EXPR_TAG, strings
from argoexec.controller.workflow.lint_metrics import check_metrics
from argoexec.controller.workflow.lint_names import check_io_names, field_name_problem
from argoexec.controller.workflow.lint_refs import check_references
from argoexec.controller.workflow.problems import Problem, join
from argoexec.controller.workflow.store import TemplateStore
from argoexec.models.artifacts import LOCATION_KINDS

KINDS = (
    "container",
    "script",
    "resource",
    "steps",
    "dag",
    "suspend",
    "containerSet",
    "data",
    "http",
    "plugin",
)
_CALLS = ("template", "templateRef", "inline")
_NESTING = ("steps", "dag")


def _names(names: Iterable[str]) -> str:
    listed = ", ".join(f"`{name}`" for name in sorted(names))
    return listed or "none"


def _present(node: dict[str, Any], key: str) -> bool:
    return node.get(key) is not None


def _needs_parameter(parameter: dict[str, Any]) -> bool:
    return all(parameter.get(key) is None for key in ("value", "default", "valueFrom"))


def _needs_artifact(artifact: dict[str, Any]) -> bool:
    located = any(artifact.get(key) is not None for key in LOCATION_KINDS)
    return not located and not artifact.get("optional")


@dataclass
class Checker:
    """Checks templates against the names a ``template: x`` may use (``templates``) and the
    store (``templateRef``), collecting problems."""

    templates: set[str]
    store: TemplateStore
    owner: str  # "workflow" or "WorkflowTemplate `x`", for messages
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> template
    # The workflow's argument names, for `{{workflow.parameters.x}}`; None: not known (a
    # WorkflowTemplate checked on its own).
    workflow_parameters: set[str] | None = None
    problems: list[Problem] = field(default_factory=list)

    def report(self, path: str, message: str, *, unresolved: bool = False) -> None:
        self.problems.append(Problem(path, message, unresolved=unresolved))

    def check_field_name(self, name: Any, path: str) -> None:
        """A template, step or task name Argo accepts."""
        problem = field_name_problem(name) if isinstance(name, str) and name else None
        if problem:
            self.report(path, problem)

    def check_name(self, name: Any, path: str) -> None:
        """``name`` (a template name used by ``onExit`` or ``entrypoint``) must exist."""
        if isinstance(name, str) and name and name not in self.templates:
            self.report(
                path,
                f"template `{name}` not found in the {self.owner} (have {_names(self.templates)})",
            )

    def check_ref(self, ref: Any, path: str) -> None:
        if not isinstance(ref, dict):
            return
        try:
            self.store.resolve_template_ref(ref)
        except TemplateReferenceError as exc:
            self.report(path, exc.message, unresolved=exc.missing_document)

    def _called(self, call: dict[str, Any]) -> dict[str, Any] | None:
        name, ref = call.get("template"), call.get("templateRef")
        if isinstance(name, str):
            return self.bodies.get(name)
        if isinstance(ref, dict):
            try:
                return self.store.resolve_template_ref(ref)[0]
            except TemplateReferenceError:
                return None  # reported by check_ref
        inline = call.get("inline")
        return inline if isinstance(inline, dict) else None

    def check_arguments(self, call: dict[str, Any], path: str) -> None:
        """Every required input of the called template is passed (Argo refuses this at submit,
        before anything runs): parameters without value/default/valueFrom, artifacts without a
        location that are not optional."""
        template = self._called(call)
        if template is None:
            return
        arguments: dict[str, Any] = call.get("arguments") or {}
        inputs: dict[str, Any] = template.get("inputs") or {}
        if not isinstance(arguments, dict) or not isinstance(inputs, dict):
            return  # wrong types are the schema check's to report
        for kind, needed in (("parameters", _needs_parameter), ("artifacts", _needs_artifact)):
            passed = {a.get("name") for a in arguments.get(kind) or [] if isinstance(a, dict)}
            for declared in inputs.get(kind) or []:
                if not isinstance(declared, dict) or declared.get("name") in passed:
                    continue
                if needed(declared):
                    self.report(
                        join(path, "arguments"),
                        f"template `{template.get('name')}` needs input {kind[:-1]} "
                        f"`{declared.get('name')}`: pass it in arguments.{kind}",
                    )

    def check_hooks(self, hooks: Any, path: str) -> None:
        if not isinstance(hooks, dict):
            return
        for name, hook in hooks.items():
            if isinstance(hook, dict):
                where = join(path, str(name))
                self.check_name(hook.get("template"), join(where, "template"))
                self.check_ref(hook.get("templateRef"), join(where, "templateRef"))
                expression = hook.get("expression")
                if name != "exit" and not (isinstance(expression, str) and expression.strip()):
                    # Argo refuses a lifecycle hook without one when it is evaluated.
                    self.report(where, "needs an `expression` (every hook but `exit` does)")

    def check_call(self, call: dict[str, Any], path: str) -> None:
        """A step or a task: what it runs, its exit handler and hooks."""
        given = [key for key in _CALLS if _present(call, key)]
        if not given:
            self.report(path, "needs one of `template`, `templateRef` or `inline`")
        elif len(given) > 1:
            self.report(path, "has more than one of " + ", ".join(f"`{key}`" for key in given))
        self.check_name(call.get("template"), join(path, "template"))
        self.check_ref(call.get("templateRef"), join(path, "templateRef"))
        self.check_arguments(call, path)
        self.problems += check_io_names(call.get("arguments"), join(path, "arguments"))
        inline = call.get("inline")
        if isinstance(inline, dict):
            self.check_template(inline, join(path, "inline"), inline=True)
        self.check_name(call.get("onExit"), join(path, "onExit"))
        self.check_hooks(call.get("hooks"), join(path, "hooks"))

    def check_templates(self, templates: Any, path: str) -> None:
        if not isinstance(templates, list):
            return
        seen: set[str] = set()
        for index, template in enumerate(templates):
            where = join(path, index)
            if not isinstance(template, dict):
                continue
            name = template.get("name")
            self.check_field_name(name, join(where, "name"))
            if isinstance(name, str) and name in seen:
                self.report(join(where, "name"), f"duplicate template name `{name}`")
            elif isinstance(name, str):
                seen.add(name)
            self.check_template(template, where, inline=False)

    def check_template(self, template: dict[str, Any], path: str, *, inline: bool) -> None:
        name = template.get("name")
        if not inline and not (isinstance(name, str) and name):
            self.report(path, "a template needs a `name`")
        label = f"template `{name}`" if isinstance(name, str) and name else "template"
        kinds = [kind for kind in KINDS if _present(template, kind)]
        if not kinds:
            self.report(path, f"{label} needs exactly one of: {', '.join(KINDS)}")
        elif len(kinds) > 1:
            self.report(path, f"{label} has more than one of: {', '.join(kinds)}")
        self.problems += check_metrics(template.get("metrics"), join(path, "metrics"), label)
        self.problems += check_references(template, path, label, self.workflow_parameters)
        for io in ("inputs", "outputs"):
            self.problems += check_io_names(template.get(io), join(path, io))
        self.check_kind_fields(template, path, label, kinds)
        steps = template.get("steps")
        if isinstance(steps, list):
            self.check_steps(steps, join(path, "steps"), template, label)
        dag = template.get("dag")
        if isinstance(dag, dict):
            self.check_dag(dag, join(path, "dag"), template, label)

    def check_kind_fields(
        self, template: dict[str, Any], path: str, label: str, kinds: list[str]
    ) -> None:
        """Fields Argo's validation allows only in some kinds of template."""
        nesting = any(kind in _NESTING for kind in kinds)
        if _present(template, "parallelism") and kinds and not nesting:
            where = join(path, "parallelism")
            self.report(where, f"{label}: parallelism is only valid for steps and dag templates")
        if _present(template, "activeDeadlineSeconds") and nesting:
            where = join(path, "activeDeadlineSeconds")
            self.report(where, f"{label}: activeDeadlineSeconds is only valid for leaf templates")

    def check_steps(
        self, groups: list[Any], path: str, template: dict[str, Any], label: str
    ) -> None:
        seen: set[str] = set()
        for i, group in enumerate(groups):
            if not isinstance(group, list):
                continue
            for j, step in enumerate(group):
                where = join(join(path, i), j)
                if not isinstance(step, dict):
                    continue
                name = step.get("name")
                self.check_field_name(name, join(where, "name"))
                if not (isinstance(name, str) and name):
                    self.report(where, "a step needs a `name`")
                elif name in seen:
                    self.report(join(where, "name"), f"duplicate step name `{name}` in {label}")
                else:
                    seen.add(name)
                self.check_call(step, where)
        self.check_outputs_refs("steps", seen, template, path.rsplit(".", 1)[0], label)

    def check_dag(
        self, dag: dict[str, Any], path: str, template: dict[str, Any], label: str
    ) -> None:
        tasks = dag.get("tasks")
        if not isinstance(tasks, list):
            return
        names: dict[str, int] = {}
        graph: dict[str, list[str]] = {}
        depends = any(isinstance(task, dict) and _present(task, "depends") for task in tasks)
        for index, task in enumerate(tasks):
            where = join(join(path, "tasks"), index)
            if not isinstance(task, dict):
                continue
            name = task.get("name")
            self.check_field_name(name, join(where, "name"))
            if (
                isinstance(name, str)
                and name[:1] in tuple("0123456789")
                and (depends or task.get("dependencies"))
            ):
                message = "a task name cannot begin with a digit when using depends or dependencies"
                self.report(join(where, "name"), message)
            if not (isinstance(name, str) and name):
                self.report(where, "a task needs a `name`")
                continue
            if name in names:
                self.report(join(where, "name"), f"duplicate task name `{name}` in {label}")
                continue
            names[name] = index
        for index, task in enumerate(tasks):
            where = join(join(path, "tasks"), index)
            if not isinstance(task, dict):
                continue
            self.check_call(task, where)
            dependencies = task_dependencies(task, where, self.problems)
            for dependency in dependencies:
                if dependency not in names:
                    field_name = "depends" if _present(task, "depends") else "dependencies"
                    self.report(
                        join(where, field_name),
                        f"unknown task `{dependency}` in {label} (tasks: {_names(names)})",
                    )
            name = task.get("name")
            if isinstance(name, str) and names.get(name) == index:
                graph[name] = dependencies
        cycle = find_cycle(graph)
        if cycle:
            self.report(join(path, "tasks"), "cyclic dependency: " + " -> ".join(cycle))
        self.check_outputs_refs("tasks", set(names), template, path.rsplit(".", 1)[0], label)

    def check_outputs_refs(
        self, scope: str, known: set[str], template: dict[str, Any], path: str, label: str
    ) -> None:
        """``{{steps.X...}}``/``{{tasks.X...}}`` (also inside ``{{= }}``) must name a step or
        task of this template."""
        plain = re.compile(r"\{\{\s*" + scope + r"\.([A-Za-z0-9_-]+)")
        in_expr = re.compile(
            r"(?<![\w.])" + scope + r"(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])"
        )
        for where, key, text in strings(_without_inline(template), path):
            used = [match.group(1) for match in plain.finditer(text)]
            # expr-lang: inside `{{= }}` tags, and whole `expression` fields (valueFrom, hooks).
            bodies = [tag.group(1) for tag in EXPR_TAG.finditer(text)]
            if key == "expression" and "{{" not in text:
                bodies.append(text)
            for body in bodies:
                used += [m.group(1) or m.group(2) for m in in_expr.finditer(body)]
            for name in dict.fromkeys(used):
                if name not in known:
                    kind = scope[:-1]
                    self.report(
                        where,
                        f"unknown {kind} `{name}` in {label} ({scope}: {_names(known)})",
                    )


def _without_inline(node: Any) -> Any:
    """``node`` without nested ``inline`` templates, which have steps or tasks of their own."""
    if isinstance(node, dict):
        return {key: _without_inline(value) for key, value in node.items() if key != "inline"}
    if isinstance(node, list):
        return [_without_inline(item) for item in node]
    return node
