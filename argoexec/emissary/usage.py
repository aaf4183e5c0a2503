"""``argoexec emissary``'s usage, and when its command line asks for it: imported by the CLI
and the frozen dispatcher without the emissary itself (standard library only, no imports)."""

from __future__ import annotations

HELP = """\
usage: argoexec emissary [--loglevel LEVEL] [--log-format text|json] [--gloglevel N]
                         -- CMD [ARGS...]

Run CMD as the main process (PID 1) of a workflow's user container: forward signals to it,
capture its output, copy its declared outputs to /var/run/argo and record its exit code there.
Everything after `--` is the container's command, passed through untouched.
"""


def help_requested(argv: list[str]) -> bool:
    """``-h``/``--help`` among the emissary's own words (before ``--``), as Argo's CLI reads
    them; after ``--`` they belong to the container's command and are passed through."""
    own = argv[: argv.index("--")] if "--" in argv else argv
    return "-h" in own or "--help" in own
