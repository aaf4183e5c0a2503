"""What every sub-command shares: Argo's persistent flags and kubectl's client flags, the argparse
types of the tree (bools as Python and as Go read them, counts, ports), the flags ``run``,
``submit`` and ``lint`` have in common, and :func:`lazy`, which imports a command only when it
runs."""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argoexec.cli import EXIT_SIGTERM

if TYPE_CHECKING:
    from argoexec.commands import Invocation

# Only the standard library and ``argoexec.contract`` (through ``argoexec.cli``): building the
# parser is part of every pod container's start.

Command = Callable[[argparse.Namespace, "Invocation"], int]

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


def go_bool_words(argv: list[str]) -> list[str]:
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


def count(text: str) -> int:
    """An argparse type: a whole number ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def port(value: str) -> int:
    """An argparse type: a TCP port number, 0 (any free port) to 65535."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return number


def global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
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


def strict_flag(parser: argparse.ArgumentParser) -> None:
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


def parameter_flag(leaf: argparse.ArgumentParser, help_text: str | None) -> None:
    """`-p NAME=VALUE`, repeatable (what a value is depends on the command)."""
    leaf.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="NAME=VALUE", help=help_text
    )


def workflow_file_flags(leaf: argparse.ArgumentParser) -> None:
    """`run` and `submit`: the Workflow file and what replaces its arguments and entrypoint."""
    leaf.add_argument("file", metavar="FILE", help="a Workflow YAML (one Workflow document)")
    parameter_flag(leaf, "set a workflow argument (repeatable)")
    leaf.add_argument(
        "-f",
        "--parameter-file",
        type=Path,
        metavar="FILE",
        help="workflow arguments from a YAML/JSON map of NAME: VALUE (-p wins)",
    )
    leaf.add_argument("--entrypoint", metavar="NAME", help="run this template instead")


def lazy(module: str, name: str) -> Command:
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
