"""Progress reported by the user through ``ARGO_PROGRESS_FILE`` (contract §4.8, §10.6)."""

from __future__ import annotations

import re
from pathlib import Path

_PROGRESS = re.compile(r"^(\d+)/(\d+)$")


def parse_progress(text: str) -> str | None:
    """``N/M`` with integers ``0 <= N <= M`` and ``M > 0``, else None."""
    match = _PROGRESS.match(text.strip())
    if not match:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    return f"{done}/{total}" if total > 0 and 0 <= done <= total else None


def latest_progress(path: Path) -> str | None:
    """The last non-empty line of the progress file, when it is a valid progress."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.strip():
            return parse_progress(line)
    return None
