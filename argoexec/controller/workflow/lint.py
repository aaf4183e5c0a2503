"""``argoexec lint``'s checks of a Workflow, a CronWorkflow or a (Cluster)WorkflowTemplate
document.

Every problem names its YAML path; all problems are collected, not just the first. The checks:
field names, types and least values against Argo's schema; references (entrypoint, step/task
templates, ``templateRef``, ``onExit``, hooks, DAG dependencies, ``{{steps.X}}``/``{{tasks.X}}``,
``{{inputs.X}}``, ``{{workflow.parameters.X}}``); one kind per template; names Argo and
Kubernetes accept, unique where they must be; DAG cycles; expressions that do not parse;
artifact subPaths that are not clean relative paths; and entrypoint parameters nobody supplies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from argoexec.controller.workflow.cron import (
    KIND_CRON_WORKFLOW,
    lint_cron_fields,
    workflow_from_cron,
)
from argoexec.controller.workflow.errors import TemplateReferenceError
from argoexec.controller.workflow.lint_artifacts import check_sub_paths
from argoexec.controller.workflow.lint_expr import check_expressions
from argoexec.controller.workflow.lint_labels import check_metadata_labels
from argoexec.controller.workflow.lint_names import check_io_names, check_object_name
from argoexec.controller.workflow.lint_sync import check_synchronization
from argoexec.controller.workflow.lint_templates import Checker
from argoexec.controller.workflow.merge import merge_workflow_template
from argoexec.controller.workflow.problems import Problem, join
from argoexec.controller.workflow.schema import validate
from argoexec.controller.workflow.store import TemplateStore

__all__ = ["Problem", "lint_cron_workflow", "lint_template_document", "lint_workflow"]


def _template_names(spec: dict[str, Any]) -> set[str]:
    return set(_template_bodies(spec))


def _template_bodies(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    templates = spec.get("templates")
    if not isinstance(templates, list):
        return {}
    return {
        t["name"]: t for t in templates if isinstance(t, dict) and isinstance(t.get("name"), str)
    }


def _check_spec(spec: dict[str, Any], checker: Checker) -> None:
    """What a Workflow and a WorkflowTemplate have in common."""
    checker.problems.extend(check_io_names(spec.get("arguments"), "spec.arguments"))
    checker.check_templates(spec.get("templates"), "spec.templates")
    checker.check_name(spec.get("onExit"), "spec.onExit")
    checker.check_hooks(spec.get("hooks"), "spec.hooks")
    checker.problems.extend(check_expressions(spec, "spec"))
    checker.problems.extend(check_sub_paths(spec, "spec"))
    checker.problems.extend(check_synchronization(spec, "spec"))


def _argument_names(spec: dict[str, Any]) -> set[str]:
    arguments = spec.get("arguments")
    parameters = arguments.get("parameters") if isinstance(arguments, dict) else None
    if not isinstance(parameters, list):
        return set()
    return {p["name"] for p in parameters if isinstance(p, dict) and isinstance(p.get("name"), str)}


def _has_value(parameter: dict[str, Any]) -> bool:
    return any(parameter.get(key) is not None for key in ("value", "default", "valueFrom"))


def _missing_arguments(spec: dict[str, Any]) -> list[Problem]:
    """Workflow arguments without a value, and entrypoint parameters nobody supplies: both must
    come from the command line (``-p NAME=VALUE``)."""
    problems: list[Problem] = []
    arguments = (spec.get("arguments") or {}).get("parameters") or []
    supplied: set[str] = set()
    for index, parameter in enumerate(arguments):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            continue
        name = parameter["name"]
        supplied.add(name)
        if not _has_value(parameter):
            where = join("spec.arguments.parameters", index)
            problems.append(Problem(where, f"argument `{name}` has no value: pass -p {name}=VALUE"))
    entrypoint = spec.get("entrypoint")
    for template in spec.get("templates") or []:
        if not isinstance(template, dict) or template.get("name") != entrypoint:
            continue
        for parameter in (template.get("inputs") or {}).get("parameters") or []:
            if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
                continue
            name = parameter["name"]
            if name not in supplied and not _has_value(parameter):
                problems.append(
                    Problem(
                        "spec.arguments.parameters",
                        f"entrypoint `{entrypoint}` needs parameter `{name}`: add it to"
                        f" spec.arguments.parameters or pass -p {name}=VALUE",
                    )
                )
        break
    return problems


def lint_workflow(
    workflow: dict[str, Any], store: TemplateStore, *, source: str = "", schema: bool = True
) -> list[Problem]:
    """All problems of a Workflow document; ``source`` (its file) is set on each. ``schema=False``
    leaves out field names and types, for a document decoded by ``load_documents`` (which kept
    those problems)."""
    problems = validate(workflow, "Workflow") if schema else []
    problems += check_object_name(workflow, "Workflow")
    problems += check_metadata_labels(workflow)
    problems += _workflow_problems(workflow, store)
    return [p.with_source(source) for p in problems]


def lint_cron_workflow(
    cron: dict[str, Any], store: TemplateStore, *, source: str = "", schema: bool = True
) -> list[Problem]:
    """All problems of a CronWorkflow document: its schema (``schema`` as for
    :func:`lint_workflow`), its own fields (schedules, timezone...), and the Workflow it runs
    (Argo validates the converted Workflow), whose problems are reported under
    ``spec.workflowSpec``."""
    problems = validate(cron, KIND_CRON_WORKFLOW) if schema else []
    problems += check_object_name(cron, KIND_CRON_WORKFLOW)
    problems += check_metadata_labels(cron)
    problems += lint_cron_fields(cron)
    spec = cron.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("workflowSpec"), dict):
        converted = workflow_from_cron(cron, datetime.now(UTC))
        for problem in _workflow_problems(converted, store):
            path = problem.path
            if path == "spec" or path.startswith(("spec.", "spec[")):
                path = "spec.workflowSpec" + path[len("spec") :]
            problems.append(Problem(path, problem.message))
    return [p.with_source(source) for p in problems]


def _workflow_problems(workflow: dict[str, Any], store: TemplateStore) -> list[Problem]:
    """What lint checks in a Workflow beyond its schema."""
    problems: list[Problem] = []
    spec = workflow.get("spec")
    if not isinstance(spec, dict):
        return problems
    merged, unresolved = spec, False
    if spec.get("workflowTemplateRef"):
        try:
            merged = merge_workflow_template(workflow, store)["spec"]
        except TemplateReferenceError as exc:
            problems.append(
                Problem("spec.workflowTemplateRef", exc.message, unresolved=exc.missing_document)
            )
            unresolved = True  # its entrypoint and templates are unknown: no guesses
    checker = Checker(
        _template_names(merged),
        store,
        "workflow",
        _template_bodies(merged),
        workflow_parameters=None if unresolved else _argument_names(merged),
    )
    entrypoint = merged.get("entrypoint")
    if unresolved:
        pass
    elif not entrypoint:
        problems.append(Problem("spec.entrypoint", "no entrypoint: name the template to run"))
    else:
        checker.check_name(entrypoint, "spec.entrypoint")
    _check_spec(spec, checker)
    problems += checker.problems
    if not unresolved:
        problems += _missing_arguments(merged)
    return problems


def lint_template_document(
    doc: dict[str, Any], store: TemplateStore, *, source: str = "", schema: bool = True
) -> list[Problem]:
    """All problems of a WorkflowTemplate or ClusterWorkflowTemplate document (``schema`` as for
    :func:`lint_workflow`)."""
    kind = str(doc.get("kind") or "WorkflowTemplate")
    problems = validate(doc, kind) if schema else []
    problems += check_object_name(doc, kind)
    problems += check_metadata_labels(doc)
    spec = doc.get("spec")
    if isinstance(spec, dict):
        name = (doc.get("metadata") or {}).get("name")
        checker = Checker(_template_names(spec), store, f"{kind} `{name}`", _template_bodies(spec))
        checker.check_name(spec.get("entrypoint"), "spec.entrypoint")
        _check_spec(spec, checker)
        problems += checker.problems
    return [p.with_source(source) for p in problems]
