"""``argoexec kill SIGNAL PID``: what the controller execs to stop a container (contract §9.3)."""

from __future__ import annotations

import argparse
import os

from argoexec.commands import Invocation, UsageError


def kill(args: argparse.Namespace, inv: Invocation) -> int:
    try:
        signum, pid = int(args.signal), int(args.pid)
    except ValueError as exc:
        raise UsageError(f"SIGNAL and PID must be integers: {exc}") from exc
    inv.stdout.write(f"killing {pid} with {signum}\n")
    inv.stdout.flush()
    os.kill(pid, signum)
    return 0
