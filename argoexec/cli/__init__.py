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

This package is the only place that catches ``Exception`` (:func:`_invoke`). Its modules hold
the tree: ``flags`` (what every sub-command shares, :func:`~argoexec.cli.flags.lazy`), ``pod``
(the pod containers' commands, ``artifact``, ``version``), ``run`` (``run``, ``lint``),
``workflows`` (the workflow commands), ``cron_ui`` (``cron``, ``ui``); :func:`build_parser`
imports them, so the emissary hand-over pays for none of them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from argoexec import contract as c

if TYPE_CHECKING:
    from argoexec.cli.flags import Command
    from argoexec.commands import Invocation

# Only the standard library and ``argoexec.contract`` are imported at module level: the emissary
# hand-over in :func:`main` must not pay for pydantic, yaml or the artifact layer, nor for the
# parser's modules (imported by :func:`build_parser`).

__all__ = [
    "EXIT_FAILED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "POD_COMMANDS",
    "build_parser",
    "exit_code_for",
    "main",
    "write_termination_log",
]

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_FAILED = c.EXIT_INTERNAL
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

log = logging.getLogger("argoexec")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole tree; given the command line, the flags of the ``artifact`` leaves and of the
    workflow commands only when it names them (they are a noticeable part of a pod container's
    start)."""
    from argoexec.cli.cron_ui import add_cron_command, add_ui_command
    from argoexec.cli.flags import global_flags
    from argoexec.cli.pod import add_pod_commands
    from argoexec.cli.run import add_lint_command, add_run_command
    from argoexec.cli.workflows import add_workflow_commands

    parser = argparse.ArgumentParser(
        prog="argoexec", description="Argo Workflows executor (Python)", allow_abbrev=False
    )
    global_flags(parser, suppress=False)
    sub = parser.add_subparsers(metavar="COMMAND")
    add_pod_commands(sub, argv)
    add_run_command(sub, argv)
    add_workflow_commands(sub, argv)
    add_cron_command(sub, argv)
    add_ui_command(sub)
    add_lint_command(sub)
    return parser


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
    from argoexec.cli.flags import go_bool_words

    try:
        argv = go_bool_words(argv)
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
