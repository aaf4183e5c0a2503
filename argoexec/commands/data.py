"""``argoexec data DATA``: the main container of a data template (Argo's executeData). DATA is
the template's `data` as JSON (the template itself comes from ``ARGO_TEMPLATE``, as in every
pod); the source is listed through the artifact drivers, each transformation applied
(`controller.tasks.data`), and the JSON result reported as ``outputs.result`` to the node's
``WorkflowTaskResult`` (or ``ARGOEXEC_RESULT_FILE`` in the local runtime)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from argoexec.commands import Invocation
from argoexec.commands.pod import kube_client, load_pod, result_sink
from argoexec.controller.tasks.data import DataError, process_data
from argoexec.errors import ExecutorError
from argoexec.models import Artifact, NodeResult, Outputs

log = logging.getLogger("argoexec.data")


def _spec(args: argparse.Namespace, template_data: Any) -> dict[str, Any]:
    if args.spec:
        try:
            found = json.loads(args.spec)
        except json.JSONDecodeError as exc:
            raise ExecutorError(f"argoexec data: DATA is not JSON: {exc}") from None
    else:
        found = template_data
    if not isinstance(found, dict):
        raise ExecutorError("argoexec data: the template has no data section")
    return found


def data(args: argparse.Namespace, inv: Invocation) -> int:
    from artifacts.driver import DriverContext
    from artifacts.locations import relocate
    from artifacts.secrets import DirSecretResolver
    from artifacts.transfer import list_objects

    _, paths, template = load_pod(inv.config)
    spec = _spec(args, template.data)
    ctx = DriverContext(
        secrets=DirSecretResolver(paths.secrets), settings=inv.config.settings, stop=inv.stop
    )

    def list_keys(artifact: Artifact) -> list[str]:
        return list_objects(relocate(artifact, template.archive_location), ctx)

    sink = result_sink(inv.config, lambda: kube_client(args, inv.config))
    sink.initialize()
    try:
        result = process_data(spec, list_keys)
    except DataError as exc:
        raise ExecutorError(str(exc)) from None
    log.info("data template processed", extra={"bytes": len(result)})
    sink.report(NodeResult(outputs=Outputs(result=result)).to_wire())
    sink.finalize()
    return 0
