"""Where a workflow command works: on a Kubernetes cluster or on this machine's state directory.

kubectl's rule: naming a cluster (``--kubeconfig``, ``--context``, ``-s/--server``, or
``--in-cluster`` for a pod's service account) means the cluster; without any of them the
workflow commands work on the local state directory (``--state-dir``), as they always have.
``submit`` is cluster-only and falls back on the default kubeconfig. Standard library only:
``argoexec.cli`` consults it before any command module is imported.
"""

from __future__ import annotations

import argparse

from argoexec.commands import UsageError

# (argparse dest, the flag as the user writes it)
CLUSTER_FLAGS = (
    ("kubeconfig", "--kubeconfig"),
    ("context", "--context"),
    ("in_cluster", "--in-cluster"),
    ("server", "-s/--server"),
)


def cluster_flags(args: argparse.Namespace) -> list[str]:
    """The flags naming a cluster that the command line gave."""
    return [flag for dest, flag in CLUSTER_FLAGS if getattr(args, dest, None)]


def on_cluster(args: argparse.Namespace) -> bool:
    """Whether the command works on a cluster; a usage error when the command line names both
    a cluster and a state directory."""
    given = cluster_flags(args)
    if given and getattr(args, "state_dir", None):
        raise UsageError(
            f"--state-dir and {given[0]} both given: --state-dir names this machine's runs, "
            f"{given[0]} a Kubernetes cluster; give one of them"
        )
    return bool(given)
