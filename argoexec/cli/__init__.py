"""The ``argoexec`` command line: the argparse tree, and the one place that turns exceptions into
exit codes.

Exit codes:

| Code | When |
|---|---|
| 0 | success (``artifact check``: verdict ``OK``) |
| 1 | ``artifact`` commands: the artifact's object/key does not exist (``ERR_NOT_FOUND``) |
| 2 | usage: bad flags, an unreadable or invalid ``--artifact``/``--repository``, a bad URL |
| 64 | any other failure — Argo's exit code for a failed sub-command (argo-contract.md §0.2) |
| 130 / 143 | interrupted by SIGINT / SIGTERM |

The workflow commands (``submit``, ``list``, ``get``, ``logs``, ``delete``, ``stop``...,
``controller``) work on a Kubernetes cluster when the command line names one (``--kubeconfig``,
``--context``, ``--in-cluster``, ``-s``), else on this machine's state directory
(``argoexec.commands.target``).

Every sub-command accepts Argo's persistent flags (``--loglevel``, ``--log-format``,
``--gloglevel``) and kubectl's client flags. Flags we do not know are tolerated when written as
``--flag`` or ``--flag=value`` (the controller may append ``executor.args``); an unknown flag's
separate value would be taken for a positional argument. ``emissary`` (alone or after Argo's
persistent flags) is handed over before any parsing, since its command line after ``--`` belongs
to the user; only ``-h``/``--help`` before ``--`` is answered here, as help.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from argoexec import contract as c

if TYPE_CHECKING:
    from argoexec.commands import Invocation

# Only the standard library and ``argoexec.contract`` are imported at module level: the emissary
# hand-over in :func:`main` must not pay for pydantic, yaml or the artifact layer.

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_FAILED = c.EXIT_INTERNAL
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

Command = Callable[[argparse.Namespace, "Invocation"], int]
log = logging.getLogger("argoexec")

# kubectl's client flags: (flags, dest, takes a value). Those with a dest we use; the rest are
# accepted and ignored so a controller-built command line never fails on them.
_KUBE_FLAGS: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (("--kubeconfig",), "kubeconfig", True),
    (("--context",), "context", True),
    (("--cluster",), "cluster", True),
    (("--user",), "user", True),
    (("-n", "--namespace"), "namespace", True),
    (("-s", "--server"), "server", True),
    (("--token",), "token", True),
    (("--certificate-authority",), "certificate_authority", True),
    (("--client-certificate",), "client_certificate", True),
    (("--client-key",), "client_key", True),
    (("--as",), "impersonate", True),
    (("--as-group",), "impersonate_group", True),
    (("--as-uid",), "impersonate_uid", True),
    (("--username",), "kube_username", True),
    (("--password",), "kube_password", True),
    (("--request-timeout",), "request_timeout", True),
    (("--tls-server-name",), "tls_server_name", True),
    (("--cache-dir",), "cache_dir", True),
    (("--log-flush-frequency",), "log_flush_frequency", True),
    (("-v", "--v"), "klog_v", True),
    (("--vmodule",), "vmodule", True),
)
_KUBE_USED = frozenset(
    {
        "kubeconfig",
        "context",
        "cluster",
        "user",
        "namespace",
        "server",
        "token",
        "certificate_authority",
    }
)
_KUBE_BOOL_FLAGS = ("insecure_skip_tls_verify", "match_server_version", "disable_compression")


def _loglevel(value: str) -> str:
    from argoexec.logs import parse_level

    try:
        parse_level(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


# strconv.ParseBool's words: what a Go (pflag) bool flag such as Argo's `--strict` takes.
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_GO_BOOL_FLAGS = frozenset({"--strict"})


def _go_bool(value: str) -> bool:
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    words = ", ".join((*_GO_TRUE, *_GO_FALSE))
    raise argparse.ArgumentTypeError(f"invalid value {value!r} (a bool flag takes one of {words})")


def _go_bool_words(argv: list[str]) -> list[str]:
    """Argo's bool flags as pflag reads them: a bare ``--strict`` is true and never takes the
    next word, so only ``--strict=false`` sets it false. ``--strict false`` (which Argo's CLI
    reads as ``--strict`` and a FILE named ``false``) is refused, naming the right spelling."""
    out: list[str] = []
    for index, token in enumerate(argv):
        if token not in _GO_BOOL_FLAGS:
            out.append(token)
            continue
        following = argv[index + 1] if index + 1 < len(argv) else None
        if following in (*_GO_TRUE, *_GO_FALSE):
            raise ValueError(
                f"{token} {following}: a bool flag takes its value after `=`"
                f" ({token}={following}); as Argo's CLI, `{following}` would be read as a FILE"
            )
        out.append(f"{token}=true")
    return out


def _strict_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict",
        type=_go_bool,
        default=True,
        metavar="BOOL",
        help="as argo lint/submit --strict (default true): unknown fields, field names in"
        " another case and keys given twice are errors; --strict=false reads names"
        " case-insensitively, drops unknown fields and keeps a repeated key's later value, with"
        " a warning each",
    )


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Argo's persistent flags and kubectl's client flags. Nested parsers get them with
    suppressed defaults so a value given before the sub-command is not reset by it."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    flags = parser.add_argument_group("global flags")
    flags.add_argument("--loglevel", type=_loglevel, default=default("info"), metavar="LEVEL")
    flags.add_argument("--log-format", choices=("text", "json"), default=default("text"))
    flags.add_argument("--gloglevel", type=int, default=default(0), metavar="N")
    kube = parser.add_argument_group("Kubernetes client flags")
    for names, dest, _ in _KUBE_FLAGS:
        shown = "(kubectl's: the cluster, secrets)" if dest in _KUBE_USED else argparse.SUPPRESS
        kube.add_argument(*names, dest=dest, default=default(None), metavar="VALUE", help=shown)
    for dest in _KUBE_BOOL_FLAGS:
        kube.add_argument(
            "--" + dest.replace("_", "-"),
            dest=dest,
            nargs="?",
            const=True,
            type=_bool,
            default=default(None),
            help=None if dest == "insecure_skip_tls_verify" else argparse.SUPPRESS,
        )


def _lazy(module: str, name: str) -> Command:
    """A command imported only when it runs, so ``argoexec version`` stays fast."""

    def run(args: argparse.Namespace, inv: Invocation) -> int:
        command: Command = getattr(importlib.import_module(module), name)
        _await_start_gate(inv.config.pod.start_gate)
        return command(args, inv)

    return run


def _await_start_gate(fd: int | None) -> None:
    """Started ahead of time (``ARGOEXEC_START_GATE``: the local runtime starts a pod's ``wait``
    while its init containers run, so its interpreter and imports are off the pod's critical
    path), the command waits here, loaded, until the runtime writes "go". Nothing of the pod has
    been read by then. EOF instead (init failed, the pod was stopped, the runtime died) ends the
    process at once, as if it had never started."""
    if fd is None:
        return
    try:
        go = os.read(fd, 1)
        os.close(fd)
    except OSError:
        return  # not a descriptor we were given: nothing to wait for
    if not go:
        os._exit(EXIT_SIGTERM)


def _location_flags(parser: argparse.ArgumentParser) -> None:
    loc = parser.add_argument_group("location")
    loc.add_argument("paths", nargs="*", metavar="URL|PATH", help="location URL and/or local path")
    loc.add_argument("--artifact", metavar="LOC", help="artifact YAML/JSON: a file or inline")
    loc.add_argument("--url", help="location shorthand: s3://, gs://, git+https://, https://")
    loc.add_argument("--name", help="artifact name (default: from --artifact or the URL)")
    loc.add_argument("--repository", metavar="FILE", help="Argo artifact-repositories document")
    loc.add_argument("--repository-key", dest="repo_key", metavar="KEY")
    loc.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    loc.add_argument("--endpoint", metavar="HOST:PORT", help="S3 endpoint for s3:// URLs")
    loc.add_argument("--insecure", action="store_true", default=None, help="S3 over plain HTTP")
    loc.add_argument("--region")
    loc.add_argument("--access-key-secret", metavar="NAME/KEY")
    loc.add_argument("--secret-key-secret", metavar="NAME/KEY")
    sec = parser.add_argument_group("secrets")
    sec.add_argument("--secrets-dir", metavar="DIR", help="DIR/<secret name>/<key> files")
    sec.add_argument(
        "--secret", action="append", default=[], metavar="NAME/KEY=VALUE|@FILE|env:VAR"
    )


def _artifact_commands(sub: Any, *, leaves_too: bool) -> None:
    group = sub.add_parser("artifact", help="move artifacts to and from storage")
    _global_flags(group, suppress=True)
    leaves = group.add_subparsers(metavar="COMMAND")
    if not leaves_too:
        return
    specs = (
        ("put", "upload a file or directory", "artifact", "put"),
        ("get", "download (and unpack) an artifact", "artifact", "get"),
        ("ls", "list the keys under an artifact's key", "artifact", "ls"),
        ("rm", "delete an artifact", "artifact", "rm"),
        (
            "check",
            "dry run: credentials, existence, optional write probe",
            "artifact_check",
            "check",
        ),
    )
    gc = leaves.add_parser(
        "delete",
        help="delete the artifacts of this artifact-GC pod's WorkflowArtifactGCTasks",
        allow_abbrev=False,
    )
    _global_flags(gc, suppress=True)
    gc.set_defaults(
        run=_lazy("argoexec.commands.artifact_delete", "delete"), command="artifact delete"
    )
    for name, help_text, module, func in specs:
        leaf = leaves.add_parser(name, help=help_text, allow_abbrev=False)
        _global_flags(leaf, suppress=True)
        _location_flags(leaf)
        leaf.set_defaults(
            run=_lazy(f"argoexec.commands.{module}", func), command=f"artifact {name}"
        )
        if name in ("put", "get"):
            leaf.add_argument("-o", "--output", choices=("text", "json"), default="text")
        if name == "get":
            leaf.add_argument("--sha256", metavar="HEX", help="fail unless the bytes match")
        if name == "check":
            leaf.add_argument("--write-probe", action="store_true")


def _either(local: tuple[str, str] | None, cluster: tuple[str, str]) -> Command:
    """A workflow command that works on a cluster when the command line names one
    (``argoexec.commands.target``), else on the local state directory."""

    def run(args: argparse.Namespace, inv: Invocation) -> int:
        from argoexec.commands.target import on_cluster

        module, name = cluster if local is None or on_cluster(args) else local
        return _lazy(module, name)(args, inv)

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


def _workflow_commands(sub: Any, argv: Sequence[str] | None) -> None:
    """The workflow commands: on a cluster when the command line names one, else on the runs
    of ``argoexec run`` (``argoexec.commands.target``). Their flags only when the command line
    names them (as for the ``artifact`` leaves: pod start-up)."""
    for name, help_text, local, cluster in _WORKFLOW_COMMANDS:
        leaf = sub.add_parser(name, help=help_text, allow_abbrev=False)
        leaf.set_defaults(run=_either(local, cluster), command=name)
        if argv is not None and name not in argv:
            continue
        _global_flags(leaf, suppress=True)
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
        leaf.add_argument(
            "-p",
            "--parameter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="resume: a suspended node's valueFrom.supplied output value; retry, "
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
        "--health-port", type=_count, default=6060, metavar="N", help="/healthz (0 = off)"
    )
    cluster.add_argument(
        "--metrics-port", type=_count, default=9090, metavar="N", help="/metrics (0 = off)"
    )
    cluster.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="act only while holding the Lease (default: on)",
    )
    cluster.add_argument("--lease-name", default="argoexec-controller", metavar="NAME")


def _workflow_file_flags(leaf: argparse.ArgumentParser) -> None:
    """`run` and `submit`: the Workflow file and what replaces its arguments and entrypoint."""
    leaf.add_argument("file", metavar="FILE", help="a Workflow YAML (one Workflow document)")
    leaf.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a workflow argument (repeatable)",
    )
    leaf.add_argument(
        "-f",
        "--parameter-file",
        type=Path,
        metavar="FILE",
        help="workflow arguments from a YAML/JSON map of NAME: VALUE (-p wins)",
    )
    leaf.add_argument("--entrypoint", metavar="NAME", help="run this template instead")


def _submit_flags(leaf: argparse.ArgumentParser) -> None:
    _workflow_file_flags(leaf)
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
    _strict_flag(leaf)


def _emissary_command(sub: Any) -> None:
    """``emissary``: listed, and its ``--help`` answered, here; running it never reaches the
    parser (:func:`main` hands its command line over untouched)."""
    from argoexec.emissary.usage import HELP

    usage, _, description = HELP.partition("\n\n")
    emissary = sub.add_parser(
        "emissary",
        help="run a user container's command as its PID 1 (argoexec emissary -- CMD ARGS...)",
        usage=usage.removeprefix("usage: "),
        description=description.strip(),
        allow_abbrev=False,
    )
    _global_flags(emissary, suppress=True)
    emissary.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="the command"
    )
    emissary.set_defaults(run=_misplaced_emissary_flags, command="emissary")


def _misplaced_emissary_flags(args: argparse.Namespace, inv: Invocation) -> int:
    from argoexec.commands import UsageError

    raise UsageError(
        "emissary: only --loglevel, --log-format and --gloglevel may come before `emissary`; "
        "write: argoexec emissary [FLAGS] -- CMD [ARGS...]"
    )


def _lint_command(sub: Any) -> None:
    lint = sub.add_parser(
        "lint", help="check workflow documents without running them", allow_abbrev=False
    )
    _global_flags(lint, suppress=True)
    lint.add_argument("files", nargs="+", metavar="FILE", help="Workflow YAML files")
    lint.add_argument(
        "--templates",
        action="append",
        default=[],
        metavar="PATH",
        help="(Cluster)WorkflowTemplate/ConfigMap files or directories the files refer to",
    )
    _strict_flag(lint)
    lint.set_defaults(run=_lazy("argoexec.commands.lint", "lint"), command="lint")


def _run_command(sub: Any, argv: Sequence[str] | None) -> None:
    """``run``: a workflow on this machine (flags only when the command line names it)."""
    run = sub.add_parser("run", help="run an Argo Workflow on this machine", allow_abbrev=False)
    run.set_defaults(run=_lazy("argoexec.commands.run", "run"), command="run")
    if argv is not None and "run" not in argv:
        return
    _global_flags(run, suppress=True)
    _workflow_file_flags(run)
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
        help="Argo's workflow-controller-configmap (or its settings); its `images` index gives "
        "the ENTRYPOINT/CMD of images used without a command",
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
    _strict_flag(run)
    run.add_argument(
        "--log", action="store_true", help="print each pod's main log as it finishes (no tree)"
    )
    run.add_argument(
        "--max-children",
        type=_count,
        metavar="N",
        help="children one node may have, loop items or retries (0 = no cap; default 10000 or "
        f"${c.ENV_MAX_CHILDREN})",
    )
    run.add_argument(
        "--max-pods",
        type=_count,
        metavar="N",
        help="pods running at once (0 = no cap; default 4 per CPU, less on small memory, or "
        f"${c.ENV_MAX_PODS})",
    )


def _count(text: str) -> int:
    """An argparse type: a whole number ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole tree; given the command line, the ``artifact`` leaves (five parsers with some
    forty flags, a noticeable part of a pod container's start) only when it names them."""
    parser = argparse.ArgumentParser(
        prog="argoexec", description="Argo Workflows executor (Python)", allow_abbrev=False
    )
    _global_flags(parser, suppress=False)
    sub = parser.add_subparsers(metavar="COMMAND")
    _artifact_commands(sub, leaves_too=argv is None or "artifact" in argv)
    ver = sub.add_parser("version", help="print version information", allow_abbrev=False)
    _global_flags(ver, suppress=True)
    ver.add_argument("--short", action="store_true")
    ver.add_argument("-o", "--output", choices=("text", "json"), default="text")
    ver.set_defaults(run=_lazy("argoexec.commands.version", "version"), command="version")
    init = sub.add_parser(
        "init", help="prepare a workflow pod (init container)", allow_abbrev=False
    )
    _global_flags(init, suppress=True)
    init.set_defaults(run=_lazy("argoexec.commands.init", "init"), command="init")
    wait = sub.add_parser(
        "wait", help="save and report a workflow pod's outputs (wait container)", allow_abbrev=False
    )
    _global_flags(wait, suppress=True)
    wait.set_defaults(run=_lazy("argoexec.commands.wait", "wait"), command="wait")
    resource = sub.add_parser(
        "resource",
        help="act on a Kubernetes manifest and wait for its conditions (resource template)",
        allow_abbrev=False,
    )
    _global_flags(resource, suppress=True)
    resource.add_argument(
        "action", metavar="ACTION", help="get, create, apply, replace, patch or delete"
    )
    resource.set_defaults(run=_lazy("argoexec.commands.resource", "resource"), command="resource")
    data = sub.add_parser(
        "data",
        help="list an artifact location and transform the list (data template)",
        allow_abbrev=False,
    )
    _global_flags(data, suppress=True)
    data.add_argument("spec", metavar="DATA", nargs="?", help="the template's data, as JSON")
    data.set_defaults(run=_lazy("argoexec.commands.data", "data"), command="data")
    agent = sub.add_parser(
        "agent",
        help="run a workflow's http tasks from its WorkflowTaskSet (the agent pod)",
        allow_abbrev=False,
    )
    _global_flags(agent, suppress=True)
    agent.add_argument("phase", metavar="PHASE", choices=("init", "main"), help="init or main")
    agent.set_defaults(run=_lazy("argoexec.commands.agent", "agent"), command="agent")
    _emissary_command(sub)
    kill = sub.add_parser("kill", help="send signal SIGNAL to process PID", allow_abbrev=False)
    _global_flags(kill, suppress=True)
    kill.add_argument("signal", metavar="SIGNAL", help="signal number, e.g. 15")
    kill.add_argument("pid", metavar="PID", help="process id, e.g. 1")
    kill.set_defaults(run=_lazy("argoexec.commands.kill", "kill"), command="kill")
    _run_command(sub, argv)
    _workflow_commands(sub, argv)
    _cron_command(sub, argv)
    _ui_command(sub)
    _lint_command(sub)
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return port


def _ui_command(sub: Any) -> None:
    ui = sub.add_parser(
        "ui", help="serve a web view of the workflows (list, graph, logs, artifacts)",
        allow_abbrev=False,
    )  # fmt: skip
    _global_flags(ui, suppress=True)
    ui.add_argument("--state-dir", metavar="DIR", help=f"default: ${c.ENV_STATE_DIR}")
    ui.add_argument("--port", type=_port, default=2746, metavar="N", help="default: 2746 (0: any)")
    ui.add_argument(
        "--address", default="127.0.0.1", metavar="ADDR",
        help="default: 127.0.0.1; an address that is not loopback requires the token printed "
        "at start",
    )  # fmt: skip
    ui.set_defaults(run=_lazy("argoexec.commands.ui", "ui"), command="ui")


_CRON_COMMANDS = (
    ("create", "store a CronWorkflow for `argoexec controller` to schedule"),
    ("list", "list the CronWorkflows"),
    ("get", "show a CronWorkflow (JSON, with its status)"),
    ("delete", "delete a CronWorkflow (its runs stay)"),
    ("suspend", "stop scheduling a CronWorkflow"),
    ("resume", "schedule a suspended CronWorkflow again"),
)


def _cron_command(sub: Any, argv: Sequence[str] | None) -> None:
    """``cron``: the state directory's CronWorkflows (as ``argo cron``)."""
    cron = sub.add_parser("cron", help="manage CronWorkflows (argo cron)", allow_abbrev=False)
    leaves = cron.add_subparsers(metavar="COMMAND", required=True)
    for name, help_text in _CRON_COMMANDS:
        function = "list_crons" if name == "list" else name
        leaf = leaves.add_parser(name, help=help_text, allow_abbrev=False)
        leaf.set_defaults(run=_lazy("argoexec.commands.cron", function), command=f"cron {name}")
        if argv is not None and "cron" not in argv:
            continue
        _global_flags(leaf, suppress=True)
        leaf.add_argument("--state-dir", metavar="DIR", help=f"default: ${c.ENV_STATE_DIR}")
        if name == "create":
            _cron_create_flags(leaf)
        elif name != "list":
            leaf.add_argument("name", metavar="NAME", help="the CronWorkflow's name")


def _cron_create_flags(leaf: argparse.ArgumentParser) -> None:
    """The options of the runs, as `run` takes them."""
    leaf.add_argument("file", metavar="FILE", help="a CronWorkflow YAML (one document)")
    leaf.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    leaf.add_argument("--runtime", choices=c.RUNTIMES, default=c.LOCAL_RUNTIME)
    leaf.add_argument("--executor-image", metavar="IMAGE")
    leaf.add_argument("--artifact-repository", type=Path, metavar="FILE")
    leaf.add_argument("--templates", action="append", default=[], type=Path, metavar="PATH")
    leaf.add_argument("--secrets-dir", type=Path, metavar="DIR")
    leaf.add_argument("--no-sandbox", action="store_true", help="run containers without bubblewrap")


# Sub-commands that run as containers of a workflow pod: their failure message becomes the
# container's termination message, which the controller shows on the node.
POD_COMMANDS = frozenset({"init", "wait", "resource", "data", "agent"})


def write_termination_log(message: str, path: Path | None = None) -> None:
    """The container's termination message (at most 4 KiB, secrets redacted, mode 0600)."""
    from artifacts.secrets import redact

    data = redact(message).encode()[: c.TERMINATION_LOG_MAX]
    try:
        fd = os.open(path or c.TERMINATION_LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as exc:
        log.warning("unable to write termination log: %s", exc)


class _Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler."""


def exit_code_for(exc: BaseException, command: str) -> int:
    """The exit code for an exception that ended ``command``."""
    from argoexec.commands import CheckFailedError, UsageError

    if isinstance(exc, UsageError):
        return EXIT_USAGE
    cause = exc.cause if isinstance(exc, CheckFailedError) and exc.cause else exc
    code = getattr(cause, "code", None)
    if command.startswith("artifact ") and getattr(code, "value", None) == "ERR_NOT_FOUND":
        return EXIT_NOT_FOUND
    return EXIT_FAILED


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    try:
        argv = _go_bool_words(argv)
    except ValueError as exc:
        parser.error(str(exc))
    args, unknown = parser.parse_known_args(argv)
    strays = [a for a in unknown if not a.startswith("-")]
    if strays:
        parser.error(f"unexpected arguments: {' '.join(strays)}")
    args.ignored_flags = unknown
    if getattr(args, "run", None) is None:
        parser.error("a command is required (try: argoexec artifact --help)")
    return args


def _invoke(args: argparse.Namespace, inv: Invocation) -> int:
    from argoexec.commands import CheckFailedError

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        inv.stop.set("SIGTERM")
        raise _Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        command: Command = args.run
        return command(args, inv)
    except KeyboardInterrupt:
        inv.stop.set("SIGINT")
        log.error("interrupted")
        return EXIT_SIGINT
    except _Terminated:
        log.error("terminated")
        return EXIT_SIGTERM
    except CheckFailedError as exc:
        return exit_code_for(exc, args.command)
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        debug = log.isEnabledFor(logging.DEBUG)
        log.error(message, extra={"command": args.command}, exc_info=exc if debug else None)
        if args.command in POD_COMMANDS:
            write_termination_log(message, inv.config.pod.termination_log)
        return exit_code_for(exc, args.command)


def _emissary_argv(argv: list[str]) -> list[str] | None:
    """The emissary's own command line when ``argv`` runs it (``emissary``, possibly after
    Argo's persistent flags) without asking for its help; None otherwise."""
    if "emissary" not in argv:
        return None  # every pod's init and wait: nothing more to import
    from argoexec.emissary.frozen import split_global_flags
    from argoexec.emissary.usage import help_requested

    flags, rest = split_global_flags(argv)
    if rest[:1] != ["emissary"] or help_requested(rest[1:]):
        return None
    return flags + rest[1:]


def main(argv: Sequence[str] | None = None) -> int:
    process_entry = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    emissary_argv = _emissary_argv(argv)
    if emissary_argv is not None:
        from argoexec.emissary.main import main as emissary_main

        return emissary_main(emissary_argv)
    try:
        args = _parse(build_parser(argv), argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from argoexec.commands import Invocation
    from argoexec.config import ExecutorConfig
    from argoexec.lifecycle import Stop
    from argoexec.logs import setup_logging

    config = ExecutorConfig.from_process()
    setup_logging(args.loglevel, args.log_format)
    for warning in config.warnings:
        log.warning(warning)
    if args.ignored_flags:
        log.debug("ignoring unknown flags", extra={"flags": " ".join(args.ignored_flags)})
    inv = Invocation(config=config, stop=Stop(), stdout=sys.stdout, stderr=sys.stderr)
    code = _invoke(args, inv)
    if process_entry and args.command in POD_COMMANDS:
        _exit_now_if_idle(code)
    return code


def _exit_now_if_idle(code: int) -> None:
    """End a pod container's process at once, skipping the interpreter's orderly shutdown.

    Tearing down pydantic, the kube client and the artifact layer module by module costs a pod's
    ``init``/``wait`` some 30 ms, and nothing is left to do: every file they write is closed by
    then, the log handlers and standard streams are flushed here. Only when no other non-daemon
    thread is alive (the normal shutdown would wait for it); otherwise the caller returns as usual.
    """
    import threading

    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
