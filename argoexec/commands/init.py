"""``argoexec init``: the legacy init container (argo-contract.md §3)."""

from __future__ import annotations

import argparse

from argoexec.commands import Invocation
from argoexec.errors import ExecutorError
from argoexec.executor.init import run_init
from argoexec.executor.paths import PodPaths
from argoexec.executor.template_source import parse_template, read_template_text
from artifacts.driver import DriverContext
from artifacts.secrets import DirSecretResolver


def init(args: argparse.Namespace, inv: Invocation) -> int:
    pod = inv.config.pod
    if not pod.pod_name:
        raise ExecutorError("ARGO_POD_NAME is not set")
    paths = PodPaths.of(pod.var_run_dir, pod.termination_log)
    template = parse_template(read_template_text(pod.template, paths))
    ctx = DriverContext(
        secrets=DirSecretResolver(paths.secrets), settings=inv.config.settings, stop=inv.stop
    )
    run_init(template, paths=paths, ctx=ctx, emissary=pod.emissary_binary)
    return 0
