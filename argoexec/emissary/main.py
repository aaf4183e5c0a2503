"""Entry point of ``argoexec emissary [flags] -- CMD ARGS...`` (stdlib only, fast start).

``argoexec.cli`` hands over to :func:`main` before importing anything else, and the frozen
in-container executable runs this module directly.
"""

from __future__ import annotations

import logging
import sys
import time

from argoexec.emissary.run import run
from argoexec.emissary.settings import EmissarySettings

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "print": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.ERROR,
    "panic": logging.ERROR,
}


class _ArgoFormatter(logging.Formatter):
    """Argo's logfmt-like text lines, or one JSON object per line; always ``argo=true``."""

    def __init__(self, json_lines: bool) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        import json

        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        level = {"WARNING": "WARN", "CRITICAL": "ERROR"}.get(record.levelname, record.levelname)
        message = record.getMessage()
        if self.json_lines:
            return json.dumps({"time": stamp, "level": level, "msg": message, "argo": True})
        return f"time={stamp} level={level} msg={json.dumps(message)} argo=true"


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
    handler.setFormatter(_ArgoFormatter(flags.get("log-format") == "json"))
    root = logging.getLogger("argoexec")
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(flags.get("loglevel", "info").lower(), logging.INFO))
    root.propagate = False
    return run(command, EmissarySettings.from_environ())


if __name__ == "__main__":
    sys.exit(main())
