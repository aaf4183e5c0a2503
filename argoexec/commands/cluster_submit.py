"""``argoexec submit FILE``: create a Workflow on a cluster, as ``argo submit`` does.

The file is read and linted as ``argoexec run`` reads it (``--strict``), except that what needs
the templates it refers to is left to the controller: a ``workflowTemplateRef`` or
``templateRef`` stays a reference (the controller merges it from the cluster's templates).
``-p``/``-f``, ``--entrypoint``, ``--generate-name``, ``--serviceaccount``, ``-l`` and
``--instance-id`` change the Workflow before it is created. With ``--watch`` (or ``--log``) the
command follows it through a watch until it has finished, and exits 0 only if it Succeeded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from argoexec.commands import Invocation, UsageError
from argoexec.contract import LABEL_INSTANCE_ID
from argoexec.controller.loop.seams import AlreadyExistsError
from argoexec.controller.render import render_workflow
from argoexec.controller.workflow.documents import DocumentError, Documents, load_documents
from argoexec.controller.workflow.lint import lint_workflow

from .cluster_access import ClusterError, Workflows, workflows
from .cluster_follow import PodLogs, watch_workflow
from .run import _apply_parameters, _lint_as_read, _parameters, _refuse


def _read(args: argparse.Namespace, inv: Invocation) -> Documents:
    try:
        documents = load_documents([Path(args.file)], strict=args.strict)
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    for warning in documents.warnings:
        inv.stderr.write(f"{warning.as_warning()}\n")
    if not documents.kinds.get(str(Path(args.file))):
        raise UsageError(f"{args.file}: no documents: the file is empty")
    if len(documents.workflows) != 1 or documents.cron_workflows:
        found = len(documents.workflows) + len(documents.cron_workflows)
        raise UsageError(f"{args.file}: expected exactly one Workflow document, found {found}")
    return documents


def load(args: argparse.Namespace, inv: Invocation) -> dict[str, Any]:
    """The Workflow to create: read, with the command line's changes, linted."""
    parameters = _parameters(args.parameter, args.parameter_file)
    documents = _read(args, inv)
    if documents.problems:  # fields of the wrong type: lint them as read, touch nothing
        found = [p for p in _lint_as_read(documents, args, parameters) if not p.unresolved]
        _refuse(args, inv, [*documents.problems, *found], what="submitted")
    workflow = documents.workflows[0]
    if parameters:
        _apply_parameters(workflow, parameters)
    _apply_flags(workflow, args)
    problems = lint_workflow(workflow, documents.templates, source=str(args.file), schema=False)
    problems = [p for p in problems if not p.unresolved]
    if problems:
        _refuse(args, inv, problems, what="submitted")
    return workflow


def _labels(text: str | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.strip().partition("=")
        if not sep or not key:
            raise UsageError(f"-l {text!r}: expected k=v,k2=v2, not {pair.strip()!r}")
        labels[key] = value
    return labels


def _apply_flags(workflow: dict[str, Any], args: argparse.Namespace) -> None:
    meta = workflow.setdefault("metadata", {})
    spec = workflow.setdefault("spec", {})
    if args.entrypoint:
        spec["entrypoint"] = args.entrypoint
    if args.serviceaccount:
        spec["serviceAccountName"] = args.serviceaccount
    if args.generate_name:
        meta.pop("name", None)
        meta["generateName"] = args.generate_name
    labels = _labels(args.labels)
    if args.instance_id:
        labels[LABEL_INSTANCE_ID] = args.instance_id
    if labels:
        meta["labels"] = {**(meta.get("labels") or {}), **labels}


def submit(args: argparse.Namespace, inv: Invocation) -> int:
    workflow = load(args, inv)
    with workflows(args) as found:
        created = _create(found, workflow)
        name = str(created["metadata"]["name"])
        _print_created(created, args, inv)
        if not (args.watch or args.log):
            return 0
        followers = PodLogs(found.api, found.namespace, inv.stdout) if args.log else None
        if followers is not None:
            final = watch_workflow(found.api, found.namespace, name, followers.update)
            followers.close()
        else:
            final = watch_workflow(found.api, found.namespace, name, lambda _: None)
    inv.stdout.write(render_workflow(final) + "\n")
    return 0 if (final.get("status") or {}).get("phase") == "Succeeded" else 1


def _create(found: Workflows, workflow: dict[str, Any]) -> dict[str, Any]:
    try:
        return found.create(workflow)
    except AlreadyExistsError:
        name = (workflow.get("metadata") or {}).get("name")
        raise ClusterError(
            f'workflow "{name}" already exists in namespace "{found.namespace}": delete it '
            "(argoexec delete), or submit with --generate-name"
        ) from None


def _print_created(created: dict[str, Any], args: argparse.Namespace, inv: Invocation) -> None:
    if args.output == "name":
        inv.stdout.write(f"{created['metadata']['name']}\n")
    elif args.output == "json":
        inv.stdout.write(json.dumps(created, indent=2) + "\n")
    elif args.output == "yaml":
        inv.stdout.write(yaml.safe_dump(created, sort_keys=False, allow_unicode=True))
    else:
        inv.stdout.write(f"workflow {created['metadata']['name']} submitted\n")
    inv.stdout.flush()
