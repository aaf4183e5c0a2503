"""``run`` (an Argo Workflow on this machine) and ``lint`` (workflow documents checked without
running them)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from argoexec import contract as c
from argoexec.cli.flags import count, global_flags, lazy, strict_flag, workflow_file_flags


def add_run_command(sub: Any, argv: Sequence[str] | None) -> None:
    """``run``: a workflow on this machine (flags only when the command line names it)."""
    run = sub.add_parser("run", help="run an Argo Workflow on this machine", allow_abbrev=False)
    run.set_defaults(run=lazy("argoexec.commands.run", "run"), command="run")
    if argv is not None and "run" not in argv:
        return
    global_flags(run, suppress=True)
    workflow_file_flags(run)
    _run_inputs_flags(run)
    _run_local_flags(run)
    strict_flag(run)
    _run_output_and_cap_flags(run)


def _run_inputs_flags(run: argparse.ArgumentParser) -> None:
    """Where the pods run, and the controller's configuration they would get on a cluster."""
    run.add_argument(
        "--runtime",
        choices=c.RUNTIMES,
        default=c.LOCAL_RUNTIME,
        help="local: sandboxed processes on this host (images ignored); podman: real pods "
        "with the images they name",
    )
    run.add_argument(
        "--executor-image",
        metavar="IMAGE",
        help="the image of init/wait containers (podman default: localhost/argoexec:latest)",
    )
    run.add_argument(
        "--controller-config",
        type=Path,
        metavar="FILE",
        help="Argo's workflow-controller-configmap (or its settings): its `images` index gives "
        "the ENTRYPOINT/CMD of images used without a command, its `workflowDefaults` are "
        "merged under the workflow",
    )
    run.add_argument(
        "--artifact-repository",
        type=Path,
        metavar="FILE",
        help="Argo's artifact-repositories ConfigMap (or one repository); default: a local "
        "directory under the state directory",
    )
    run.add_argument(
        "--templates",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="a file or directory of WorkflowTemplate/ClusterWorkflowTemplate/ConfigMap documents",
    )


def _run_local_flags(run: argparse.ArgumentParser) -> None:
    """The output, and this machine's side: state, secrets, sandbox, network."""
    run.add_argument("-o", "--output", choices=("json", "yaml"), help="print the final Workflow")
    run.add_argument("--state-dir", metavar="DIR", help=f"default: ${c.ENV_STATE_DIR}")
    run.add_argument("--secrets-dir", type=Path, metavar="DIR", help="DIR/<secret>/<key> files")
    run.add_argument("--no-sandbox", action="store_true", help="run containers without bubblewrap")
    run.add_argument(
        "--pod-network",
        choices=c.POD_NETWORKS,
        help="local runtime: which pods get a network namespace and address of their own: "
        "daemons and pods with sidecars (auto), every pod (pod), none (host); default auto or "
        f"${c.ENV_POD_NETWORK}",
    )


def _run_output_and_cap_flags(run: argparse.ArgumentParser) -> None:
    """How the run is shown, and how large it may grow."""
    run.add_argument(
        "--log", action="store_true", help="print each pod's main log as it finishes (no tree)"
    )
    run.add_argument(
        "--max-children",
        type=count,
        metavar="N",
        help="children one node may have, loop items or retries (0 = no cap; default 10000 or "
        f"${c.ENV_MAX_CHILDREN})",
    )
    run.add_argument(
        "--max-pods",
        type=count,
        metavar="N",
        help="pods running at once (0 = no cap; default 4 per CPU, less on small memory, or "
        f"${c.ENV_MAX_PODS})",
    )


def add_lint_command(sub: Any) -> None:
    lint = sub.add_parser(
        "lint", help="check workflow documents without running them", allow_abbrev=False
    )
    global_flags(lint, suppress=True)
    lint.add_argument("files", nargs="+", metavar="FILE", help="Workflow YAML files")
    lint.add_argument(
        "--templates",
        action="append",
        default=[],
        metavar="PATH",
        help="(Cluster)WorkflowTemplate/ConfigMap files or directories the files refer to",
    )
    strict_flag(lint)
    lint.set_defaults(run=lazy("argoexec.commands.lint", "lint"), command="lint")
