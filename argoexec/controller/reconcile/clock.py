"""Status timestamps (RFC 3339, as Kubernetes writes them) as epoch seconds."""

from __future__ import annotations

from argoexec.durations import epoch_seconds as epoch

__all__ = ["epoch"]
