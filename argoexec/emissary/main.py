"""Entry point of ``argoexec emissary [flags] -- CMD ARGS...`` (stdlib only, fast start).

``argoexec.cli`` hands over to :func:`main` before importing anything else, and the frozen
in-container executable runs this module directly.
"""

from __future__ import annotations

import logging
import sys

from argoexec.emissary.run import run
from argoexec.emissary.settings import EmissarySettings
from argoexec.logformat import JsonFormatter, TextFormatter, parse_level


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
    flags, command = split_argv(sys.argv[1:] if argv is None else argv)
    handler = logging.StreamHandler(sys.stderr)
    json_lines = flags.get("log-format") == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger("argoexec")
    root.handlers[:] = [handler]
    try:
        root.setLevel(parse_level(flags.get("loglevel", "info")))
    except ValueError:
        root.setLevel(logging.INFO)
    root.propagate = False
    return run(command, EmissarySettings.from_environ())


if __name__ == "__main__":
    sys.exit(main())
