"""``argoexec controller`` on a cluster (``--in-cluster``, ``--kubeconfig``, ``--context``): the
workflow controller on the API server (`controller.cluster.controller`), as Argo's
``workflow-controller`` runs in a Deployment.

``-n`` is the controller's own namespace (its ConfigMap and its Lease; default the context's,
or the pod's); it watches every namespace unless ``--namespaced``. The first SIGTERM or SIGINT
stops it cleanly (the Lease is released for another replica to take at once), a second one at
once. Exit 1 when it lost the leadership: the process should end, another replica leads now.
"""

from __future__ import annotations

import argparse
import logging
import threading
from types import FrameType

from argoexec.commands import Invocation
from argoexec.commands.interrupts import handled_by
from argoexec.config import leader_election_identity
from argoexec.controller.cluster.api import ClusterApi
from argoexec.controller.cluster.controller import ClusterController, ClusterOptions

from .cluster_access import connection, plain_errors

log = logging.getLogger("argoexec.controller")


def options(args: argparse.Namespace, inv: Invocation, namespace: str) -> ClusterOptions:
    return ClusterOptions(
        namespace=namespace if args.namespaced else None,
        controller_namespace=namespace,
        config_map=args.configmap,
        instance_id=args.instance_id,
        executor_image=args.executor_image,
        identity=leader_election_identity(inv.config.environ),
        lease_name=args.lease_name,
        leader_election=args.leader_elect,
        health_port=args.health_port or None,
        metrics_port=args.metrics_port or None,
        log_level=logging.getLevelName(logging.getLogger().level).lower(),
    )


def controller(args: argparse.Namespace, inv: Invocation) -> int:
    api = ClusterApi.connect(connection(args))
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    try:
        with plain_errors(api):
            settings = options(args, inv, api.namespace)
            driver = ClusterController(api, settings)
            log.info(
                "controller on %s: namespaces %s, instance id %s, config ConfigMap %s/%s, "
                "identity %s",
                api.host,
                settings.namespace or "(all)",
                driver.instance_id or "(none)",
                settings.controller_namespace,
                settings.config_map,
                settings.identity,
            )
            with handled_by(handler):
                code = driver.run(stop.is_set)
    finally:
        api.close()
    if code == 1:
        log.error("lost the leadership: exiting (another replica leads now)")
    return code
