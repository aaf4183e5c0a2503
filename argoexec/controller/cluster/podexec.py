"""Running a command in a container through `pods/exec` (a WebSocket, the `v4.channel.k8s.io`
protocol), as Argo's controller sends `argoexec kill` to a container. With `api` this module is
the only one importing `kubernetes`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from argoexec.kube.errors import KubeConnectionError, KubeError

from .api import ClusterApi, _api_error


@dataclass(frozen=True)
class ExecOutcome:
    exit_code: int | None  # None when the server said nothing of it
    stdout: str
    stderr: str


def exec_in_container(
    api: ClusterApi,
    namespace: str,
    pod: str,
    container: str,
    command: Sequence[str],
    *,
    timeout: float = 10.0,
) -> ExecOutcome:
    # `stream` swaps the ApiClient's `call_api` for a WebSocket one while it connects: on the
    # shared client every other thread's request (informers, the Lease, the loop) would go over
    # a WebSocket meanwhile, and two overlapping execs could leave it swapped for good. A client
    # of its own per exec (the same configuration: credentials and their refresh) is immune.
    client = ApiClient(configuration=api.client.configuration)
    try:
        return _exec(CoreV1Api(client), namespace, pod, container, command, timeout=timeout)
    finally:
        client.close()


def _exec(
    core: CoreV1Api,
    namespace: str,
    pod: str,
    container: str,
    command: Sequence[str],
    *,
    timeout: float,
) -> ExecOutcome:
    try:
        session = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=list(command),
            container=container,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
            _request_timeout=timeout,
        )
    except ApiException as exc:
        raise _api_error(exc) from None
    except Exception as exc:  # websocket-client's own errors: a handshake refused, a reset
        status = int(getattr(exc, "status_code", 0) or 0)
        where = f"exec in {namespace}/{pod}/{container}"
        if status:
            raise KubeError(status, "", f"{where}: {exc}") from None
        raise KubeConnectionError(f"{where}: {exc}") from None
    try:
        session.run_forever(timeout=timeout)
        return ExecOutcome(session.returncode, session.read_stdout(), session.read_stderr())
    finally:
        session.close()
