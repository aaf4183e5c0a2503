"""``argoexec init``: the legacy init container (argo-contract.md §3).

A pod without input artifacts is prepared by `plain_init` (standard library only); the models and
the artifact layer are imported only for pods that load artifacts.
"""

from __future__ import annotations

import argparse

from argoexec.commands import Invocation
from argoexec.contract import ENV_POD_NAME
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.staging import plain_init, read_template_text


def init(args: argparse.Namespace, inv: Invocation) -> int:
    pod = inv.config.pod
    if not pod.pod_name:
        raise ExecutorError(f"{ENV_POD_NAME} is not set")
    paths = PodPaths.of(pod.var_run_dir, pod.termination_log, pod.path_map)
    text = read_template_text(pod.template, paths)
    if plain_init(text, paths, pod.emissary_binary):
        return 0
    from argoexec.commands.pod import load_pod
    from argoexec.executor.init import run_init
    from artifacts.driver import DriverContext
    from artifacts.secrets import DirSecretResolver

    pod, paths, template = load_pod(inv.config)
    ctx = DriverContext(
        secrets=DirSecretResolver(paths.secrets), settings=inv.config.settings, stop=inv.stop
    )
    run_init(template, paths=paths, ctx=ctx, emissary=pod.emissary_binary)
    return 0
