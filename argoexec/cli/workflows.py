"""The workflow commands (``submit``, ``list``, ``get``, ``logs``, ``delete``, ``stop``...,
``controller``): on a Kubernetes cluster when the command line names one, else on the runs of
``argoexec run`` in this machine's state directory (``argoexec.commands.target``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from argoexec import contract as c
from argoexec.cli.flags import (
    Command,
    count,
    global_flags,
    lazy,
    parameter_flag,
    strict_flag,
    workflow_file_flags,
)

if TYPE_CHECKING:
    from argoexec.commands import Invocation


def _either(local: tuple[str, str] | None, cluster: tuple[str, str]) -> Command:
    """A workflow command that works on a cluster when the command line names one
    (``argoexec.commands.target``), else on the local state directory."""

    def run(args: argparse.Namespace, inv: Invocation) -> int:
        from argoexec.commands.target import on_cluster

        module, name = cluster if local is None or on_cluster(args) else local
        return lazy(module, name)(args, inv)

    return run


_READS, _CHANGES = "argoexec.commands.workflows", "argoexec.commands.control"
_ON_CLUSTER = "argoexec.commands.cluster_workflows"
_CLUSTER_CHANGES = "argoexec.commands.cluster_control"
# name, help, the local command (None: cluster only), the cluster command
_WORKFLOW_COMMANDS: tuple[tuple[str, str, tuple[str, str] | None, tuple[str, str]], ...] = (
    ("submit", "create a Workflow on a cluster (argo submit)", None,
     ("argoexec.commands.cluster_submit", "submit")),
    ("list", "list the workflows, newest first", (_READS, "list_workflows"),
     (_ON_CLUSTER, "list_workflows")),
    ("get", "show a workflow's status and node tree", (_READS, "get"), (_ON_CLUSTER, "get")),
    ("logs", "print the logs of a workflow's pods", (_READS, "logs"), (_ON_CLUSTER, "logs")),
    ("delete", "delete a workflow (and its pods)", (_CHANGES, "delete"),
     (_ON_CLUSTER, "delete")),
    ("resume", "resume a workflow's suspended nodes", (_CHANGES, "resume"),
     (_CLUSTER_CHANGES, "resume")),
    ("stop", "stop a workflow (exit handlers still run)", (_CHANGES, "stop"),
     (_CLUSTER_CHANGES, "stop")),
    ("terminate", "terminate a workflow (exit handlers do not run)", (_CHANGES, "terminate"),
     (_CLUSTER_CHANGES, "terminate")),
    ("suspend", "suspend a workflow (nothing new starts)", (_CHANGES, "suspend"),
     (_CLUSTER_CHANGES, "suspend")),
    ("retry", "retry a failed workflow's failed nodes (here: to its end)", (_CHANGES, "retry"),
     (_CLUSTER_CHANGES, "retry")),
    ("resubmit", "run a workflow again under a new name (here: to its end)",
     (_CHANGES, "resubmit"), (_CLUSTER_CHANGES, "resubmit")),
    ("controller", "drive workflows: this machine's unfinished runs, or a cluster's",
     (_CHANGES, "controller"), ("argoexec.commands.cluster_controller", "controller")),
)  # fmt: skip


def add_workflow_commands(sub: Any, argv: Sequence[str] | None) -> None:
    """The workflow commands: on a cluster when the command line names one, else on the runs
    of ``argoexec run`` (``argoexec.commands.target``). Their flags only when the command line
    names them (as for the ``artifact`` leaves: pod start-up)."""
    for name, help_text, local, cluster in _WORKFLOW_COMMANDS:
        leaf = sub.add_parser(name, help=help_text, allow_abbrev=False)
        leaf.set_defaults(run=_either(local, cluster), command=name)
        if argv is not None and name not in argv:
            continue
        global_flags(leaf, suppress=True)
        leaf.add_argument(
            "--in-cluster",
            action="store_true",
            help="work on the cluster this pod runs in (its service account)",
        )
        if name == "submit":
            _submit_flags(leaf)
            continue
        leaf.add_argument("--state-dir", metavar="DIR", help=f"default: ${c.ENV_STATE_DIR}")
        if name == "controller":
            _controller_flags(leaf)
        elif name != "list":
            leaf.add_argument("name", metavar="NAME", help="the workflow's name")
        _workflow_flags(leaf, name)


def _workflow_flags(leaf: argparse.ArgumentParser, name: str) -> None:
    if name in ("list", "get"):
        kinds = ("wide", "json") if name == "list" else ("json", "yaml", "metrics", "dot", "svg")
        leaf.add_argument("-o", "--output", choices=kinds)
    if name == "list":
        leaf.add_argument(
            "-A",
            "--all-namespaces",
            action="store_true",
            help="on a cluster: the workflows of every namespace",
        )
    if name in ("logs", "resume"):
        leaf.add_argument("--node", metavar="NODE", help="node id, name or display name")
    if name in ("resume", "retry", "resubmit"):
        parameter_flag(
            leaf,
            "resume: a suspended node's valueFrom.supplied output value; retry, "
            "resubmit: a workflow parameter",
        )
    if name == "logs":
        leaf.add_argument("-c", "--container", default=c.MAIN_CONTAINER, metavar="CONTAINER")
        leaf.add_argument(
            "-f",
            "--follow",
            action="store_true",
            help="on a cluster: follow the logs until the workflow has finished",
        )
    if name == "stop":
        leaf.add_argument("--message", default="", metavar="TEXT")


def _controller_flags(leaf: argparse.ArgumentParser) -> None:
    leaf.add_argument(
        "--exit-when-done",
        action="store_true",
        help="local: exit once no workflow is left unfinished",
    )
    leaf.add_argument(
        "--cron-dir",
        metavar="DIR",
        help="local: schedule the CronWorkflow files of DIR too (besides `argoexec cron create`)",
    )
    cluster = leaf.add_argument_group("on a cluster (--in-cluster, --kubeconfig, --context)")
    cluster.add_argument(
        "--namespaced",
        action="store_true",
        help="watch only the controller's namespace (-n; default: every namespace)",
    )
    cluster.add_argument(
        "--configmap",
        default="workflow-controller-configmap",
        metavar="NAME",
        help="Argo's controller ConfigMap, in the controller's namespace",
    )
    cluster.add_argument("--instance-id", default="", metavar="ID", help="handle only these")
    cluster.add_argument("--executor-image", metavar="IMAGE", help="wins over the ConfigMap's")
    cluster.add_argument(
        "--health-port", type=count, default=6060, metavar="N", help="/healthz (0 = off)"
    )
    cluster.add_argument(
        "--metrics-port", type=count, default=9090, metavar="N", help="/metrics (0 = off)"
    )
    cluster.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="act only while holding the Lease (default: on)",
    )
    cluster.add_argument("--lease-name", default="argoexec-controller", metavar="NAME")


def _submit_flags(leaf: argparse.ArgumentParser) -> None:
    workflow_file_flags(leaf)
    leaf.add_argument("--generate-name", metavar="PREFIX", help="metadata.generateName")
    leaf.add_argument("--serviceaccount", metavar="SA", help="spec.serviceAccountName")
    leaf.add_argument(
        "-l", "--labels", metavar="K=V,...", help="labels to add (comma-separated k=v)"
    )
    leaf.add_argument("--instance-id", metavar="ID", help="the controller instance id label to set")
    leaf.add_argument(
        "-w", "--watch", action="store_true", help="follow it; exit 0 if it Succeeded, else 1"
    )
    leaf.add_argument(
        "--log", action="store_true", help="follow it, printing its pods' main logs as they run"
    )
    leaf.add_argument("-o", "--output", choices=("name", "json", "yaml"))
    strict_flag(leaf)
