"""Status timestamps (RFC 3339, whole seconds, as Kubernetes writes them) and epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment.timestamp()
