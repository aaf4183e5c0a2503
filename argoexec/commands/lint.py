"""``argoexec lint FILE... [--templates PATH]... [--strict=false]``: check workflow documents
without running them.

Prints ``FILE: PATH: message`` for every problem, or ``FILE: ok``; exits 1 when anything is
wrong (a document that cannot be read at all, an empty file, or nothing to lint in any file
included), 0 otherwise. ``--templates`` names the
WorkflowTemplates, ClusterWorkflowTemplates and ConfigMaps the files refer to. ``--strict``
is ``argo lint --strict``: with ``--strict=false`` unknown fields and field names that differ in
case are warnings (``FILE: PATH: warning: message`` on stderr), not problems.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from argoexec.commands import Invocation
from argoexec.controller.workflow.documents import DocumentError, Documents, load_documents
from argoexec.controller.workflow.lint import (
    Problem,
    lint_cron_workflow,
    lint_template_document,
    lint_workflow,
)

EXIT_PROBLEMS = 1
# The kinds lint checks; a file of ConfigMaps only is read for the others' references.
LINTED_KINDS = ("Workflow", "CronWorkflow", "WorkflowTemplate", "ClusterWorkflowTemplate")
STRICT_HINT = (
    "with --strict=false, as with Argo's CLI, unknown fields are dropped and a key given twice"
    " keeps its later value, with a warning each"
)


def lint(args: argparse.Namespace, inv: Invocation) -> int:
    files = [str(Path(name)) for name in args.files]
    try:
        documents = load_documents(
            files, template_paths=[Path(p) for p in args.templates], strict=args.strict
        )
    except DocumentError as exc:
        inv.stdout.write(f"{exc}\n")
        return EXIT_PROBLEMS
    for warning in documents.warnings:
        if warning.source in files:
            inv.stderr.write(f"{warning.as_warning()}\n")
    found = _problems(documents, files)
    for name, problems in found.items():
        if not problems:
            inv.stdout.write(f"{name}: ok\n")
        for problem in problems:
            inv.stdout.write(f"{problem}\n")
    if any(problem.strict_only for problems in found.values() for problem in problems):
        inv.stderr.write(f"({STRICT_HINT})\n")
    return EXIT_PROBLEMS if any(found.values()) else 0


def _problems(documents: Documents, files: list[str]) -> dict[str, list[Problem]]:
    """Every problem of the documents of ``files`` (those only given with --templates are not
    reported), by file."""
    found: dict[str, list[Problem]] = {name: [] for name in files}
    for name in files:
        if not documents.kinds.get(name):
            found[name].append(Problem("", "no documents: the file is empty", name))
    linted = any(k in LINTED_KINDS for name in files for k in documents.kinds.get(name, []))
    if not linted:
        for name in files:
            if documents.kinds.get(name):
                kinds = ", ".join(LINTED_KINDS[:-1]) + f" or {LINTED_KINDS[-1]}"
                message = f"found nothing to lint: no {kinds} document"
                found[name].append(Problem("", message, name))
    for problem in documents.problems:
        if problem.source in found:
            found[problem.source].append(problem)
    templates = documents.templates
    for workflow, source in zip(documents.workflows, documents.workflow_sources, strict=True):
        found[source] += lint_workflow(workflow, templates, source=source, schema=False)
    for cron, source in zip(documents.cron_workflows, documents.cron_sources, strict=True):
        found[source] += lint_cron_workflow(cron, templates, source=source, schema=False)
    for owner in templates.owners():
        if owner.source in found:
            found[owner.source] += lint_template_document(
                owner.document, templates, source=owner.source, schema=False
            )
    return found
