"""``argoexec lint FILE... [--templates PATH]...``: check workflow documents without running them.

Prints ``FILE: PATH: message`` for every problem, or ``FILE: ok``; exits 1 when anything is
wrong (a document that cannot be read at all included), 0 otherwise. ``--templates`` names the
WorkflowTemplates, ClusterWorkflowTemplates and ConfigMaps the files refer to.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from argoexec.commands import Invocation
from argoexec.controller.workflow.documents import DocumentError, load_documents
from argoexec.controller.workflow.lint import (
    Problem,
    lint_cron_workflow,
    lint_template_document,
    lint_workflow,
)

EXIT_PROBLEMS = 1


def lint(args: argparse.Namespace, inv: Invocation) -> int:
    files = [str(Path(name)) for name in args.files]
    try:
        documents = load_documents(files, template_paths=[Path(p) for p in args.templates])
    except DocumentError as exc:
        inv.stdout.write(f"{exc}\n")
        return EXIT_PROBLEMS
    found: dict[str, list[Problem]] = {name: [] for name in files}
    for workflow, source in zip(documents.workflows, documents.workflow_sources, strict=True):
        found[source] += lint_workflow(workflow, documents.templates, source=source)
    for cron, source in zip(documents.cron_workflows, documents.cron_sources, strict=True):
        found[source] += lint_cron_workflow(cron, documents.templates, source=source)
    for owner in documents.templates.owners():
        if owner.source in found:
            found[owner.source] += lint_template_document(
                owner.document, documents.templates, source=owner.source
            )
    for name, problems in found.items():
        if not problems:
            inv.stdout.write(f"{name}: ok\n")
        for problem in problems:
            inv.stdout.write(f"{problem}\n")
    return EXIT_PROBLEMS if any(found.values()) else 0
