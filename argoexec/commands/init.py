"""``argoexec init``: the legacy init container (argo-contract.md §3)."""

from __future__ import annotations

import argparse

from argoexec.commands import Invocation
from argoexec.commands.pod import load_pod
from argoexec.executor.init import run_init
from artifacts.driver import DriverContext
from artifacts.secrets import DirSecretResolver


def init(args: argparse.Namespace, inv: Invocation) -> int:
    pod, paths, template = load_pod(inv.config)
    ctx = DriverContext(
        secrets=DirSecretResolver(paths.secrets), settings=inv.config.settings, stop=inv.stop
    )
    run_init(template, paths=paths, ctx=ctx, emissary=pod.emissary_binary)
    return 0
