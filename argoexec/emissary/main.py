"""Entry point of ``argoexec emissary [flags] -- CMD ARGS...`` (stdlib only, fast start).

``argoexec.cli`` hands over to :func:`main` before importing anything else, and the frozen
in-container executable runs this module directly.
"""

from __future__ import annotations

import os
import sys

from argoexec.emissary import elog
from argoexec.emissary.child import capture_early_signals
from argoexec.emissary.run import run
from argoexec.emissary.settings import EmissarySettings


def split_argv(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Flags before ``--`` (``--name value`` or ``--name=value``), and the command after it."""
    if "--" in argv:
        cut = argv.index("--")
        flags_part, command = argv[:cut], argv[cut + 1 :]
    else:
        flags_part, command = [], argv
    flags: dict[str, str] = {}
    i = 0
    while i < len(flags_part):
        arg = flags_part[i]
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg[2:].partition("=")
            flags[name] = value
        elif arg.startswith("--") and i + 1 < len(flags_part):
            flags[arg[2:]] = flags_part[i + 1]
            i += 1
        i += 1
    return flags, command


def main(argv: list[str] | None = None) -> int:
    capture_early_signals()
    flags, command = split_argv(sys.argv[1:] if argv is None else argv)
    elog.configure(flags.get("log-format"), flags.get("loglevel"))
    return run(command, EmissarySettings.from_environ())


def run_and_exit(argv: list[str] | None = None) -> None:
    """:func:`main`, then leave at once with its code. Once ``exitcode`` is in place and the
    capture files are closed an emissary has nothing left to finalise, and the interpreter's
    orderly shutdown would add milliseconds to every container (its own lines are flushed as
    they are logged; only the standard streams' buffers remain)."""
    code = main(argv)
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (contextlib: milliseconds of imports at every start)
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream: nothing more can be said on it
    os._exit(code)


if __name__ == "__main__":
    run_and_exit()
