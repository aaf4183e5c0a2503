"""Entry point of the frozen, self-contained ``/var/run/argo/argoexec`` (stdlib only).

Images without Python, a shell or libc get this executable copied in by ``argoexec init``. Inside
a user container Argo only ever runs two of ``argoexec``'s sub-commands there: the container's own
command ``argoexec emissary -- CMD ARGS...``, and ``argoexec kill SIGNAL PID``, which the controller
execs to stop a container (``/var/run/argo/argoexec kill 15 1``). This dispatcher answers exactly
those two without the full CLI (argparse and the executor's dependencies are not frozen in).
"""

from __future__ import annotations

import os
import sys

# Argo's persistent flags may precede the sub-command; each takes one value.
_GLOBAL_FLAGS = frozenset({"--loglevel", "--log-format", "--gloglevel"})

USAGE = "usage: argoexec emissary [FLAGS] -- CMD [ARGS...] | argoexec kill SIGNAL PID\n"


def split_global_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """Leading global flags (``--name value`` / ``--name=value``) and the rest from the verb on."""
    flags: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.partition("=")[0]
        if name not in _GLOBAL_FLAGS:
            break
        if "=" in arg:
            flags.append(arg)
            i += 1
        else:
            flags.extend(argv[i : i + 2])
            i += 2
    return flags, argv[i:]


def kill(args: list[str]) -> int:
    """``argoexec kill SIGNAL PID`` with the same output as the full CLI's ``kill``."""
    if len(args) != 2:
        sys.stderr.write("usage: argoexec kill SIGNAL PID\n")
        return 2
    try:
        signum, pid = int(args[0]), int(args[1])
    except ValueError as exc:
        sys.stderr.write(f"SIGNAL and PID must be integers: {exc}\n")
        return 2
    sys.stdout.write(f"killing {pid} with {signum}\n")
    sys.stdout.flush()
    try:
        os.kill(pid, signum)
    except OSError as exc:
        sys.stderr.write(f"failed to kill {pid} with {signum}: {exc}\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    flags, rest = split_global_flags(sys.argv[1:] if argv is None else argv)
    verb, args = (rest[0], rest[1:]) if rest else ("", [])
    if verb == "emissary":
        # Imported here so that ``kill`` does not pay for the emissary's imports.
        from argoexec.emissary.main import main as emissary_main
        from argoexec.emissary.usage import HELP, help_requested

        if help_requested(args):
            sys.stdout.write(HELP)
            return 0
        return emissary_main(flags + args)
    if verb == "kill":
        return kill(args)
    sys.stderr.write(USAGE)
    return 2


if __name__ == "__main__":
    sys.exit(main())
