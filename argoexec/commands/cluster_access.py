"""What the workflow commands share on a cluster: the connection from kubectl's flags, the
namespace (``-n``, else the kubeconfig context's, else the pod's), the Workflows of that
namespace by name, and failures in the user's words.

These commands never drive a workflow: the cluster's controller does. They read and change the
Workflow resource (with optimistic concurrency: a 409 is read again and applied again), and
read pods' logs, through the API server.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from argoexec.controller.cluster.api import ClusterApi, Connection, network_cause
from argoexec.controller.cluster.store import ClusterWorkflowStore
from argoexec.controller.loop.seams import NotFoundError
from argoexec.kube.errors import KubeConnectionError, KubeUnauthorizedError


class ClusterError(Exception):
    """A cluster command cannot do what it was asked; ``str()`` says why."""


def connection(args: argparse.Namespace) -> Connection:
    """kubectl's client flags as a `Connection` (none given: the default kubeconfig)."""
    return Connection(
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        in_cluster=bool(getattr(args, "in_cluster", False)),
        namespace=getattr(args, "namespace", None),
        server=getattr(args, "server", None),
        token=getattr(args, "token", None),
        certificate_authority=getattr(args, "certificate_authority", None),
        insecure_skip_tls_verify=bool(getattr(args, "insecure_skip_tls_verify", None)),
    )


class Workflows:
    """The Workflows of one namespace by name: a `WorkflowStore` for `ctl.change` and the
    local commands' helpers, whose missing workflow is named as kubectl names it."""

    def __init__(self, api: ClusterApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.store = ClusterWorkflowStore(api)

    def key(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    def missing(self, name: str) -> str:
        return f'workflow "{name}" not found in namespace "{self.namespace}"'

    def get(self, name: str) -> dict[str, Any]:
        try:
            return self.store.get(self.key(name))
        except NotFoundError:
            raise NotFoundError(self.missing(name)) from None

    def list(self) -> list[dict[str, Any]]:
        return self.store.list()

    def create(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        meta = {**(workflow.get("metadata") or {}), "namespace": self.namespace}
        return self.store.create({**workflow, "metadata": meta})

    def update(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        name = str((workflow.get("metadata") or {}).get("name") or "")
        try:
            return self.store.update(workflow)
        except NotFoundError:
            raise NotFoundError(self.missing(name)) from None

    def delete(self, name: str) -> None:
        """The Workflow deleted; its pods and task results go by their owner references."""
        try:
            self.store.delete(self.key(name))
        except NotFoundError:
            raise NotFoundError(self.missing(name)) from None


@contextmanager
def workflows(args: argparse.Namespace) -> Iterator[Workflows]:
    """The Workflows of the command line's namespace on its cluster, for the block; what goes
    wrong talking to the API server said in one line."""
    # urllib3 warns on each retry of a refused connection; the error at the end says it once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    api = ClusterApi.connect(connection(args))
    try:
        with plain_errors(api):
            yield Workflows(api, api.namespace)
    finally:
        api.close()


@contextmanager
def plain_errors(api: ClusterApi) -> Iterator[None]:
    """An unreachable server named with its URL; refused credentials too (the API server's
    own message, "Unauthorized", does not say which server refused them)."""
    try:
        yield
    except KubeConnectionError as exc:
        cause = network_cause(exc.__cause__) if exc.__cause__ is not None else str(exc)
        raise ClusterError(
            f"cannot reach the Kubernetes API server at {api.host}: {cause}"
        ) from exc
    except KubeUnauthorizedError as exc:
        raise ClusterError(
            f"the Kubernetes API server at {api.host} refused the credentials: {exc}"
        ) from exc
    except NotFoundError as exc:
        raise ClusterError(str(exc)) from None
