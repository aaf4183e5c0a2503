"""Status timestamps (RFC 3339, whole seconds, as Kubernetes writes them) as epoch seconds."""

from __future__ import annotations

from argoexec.durations import parse_rfc3339


def epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_rfc3339(text).timestamp()
    except ValueError:
        return None
