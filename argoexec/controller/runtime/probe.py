"""Readiness probes of the ``local`` runtime, as the kubelet runs them.

A container with a ``readinessProbe`` is not ready when it starts; from ``initialDelaySeconds``
on, every ``periodSeconds`` (10) its probe runs with ``timeoutSeconds`` (1): ``successThreshold``
(1) successes in a row make it ready, ``failureThreshold`` (3) failures in a row unready again.
A container without one is ready while it runs. The probes:

* ``httpGet``: a GET of ``path`` on ``port`` (a number or the name of one of the container's
  ``ports``) with ``httpHeaders``; a status from 200 to 399 succeeds. ``scheme: HTTPS`` does not
  verify the certificate, as the kubelet does not;
* ``tcpSocket``: a TCP connection to ``port`` opens;
* ``exec``: ``command`` exits 0, run in the container as an exec is.

The kubelet probes the pod's address from the node; here a probe connects from inside the pod's
network (its namespace when it has one of its own) to ``host`` or, by default, 127.0.0.1: a
server listening only on the pod's loopback is ready here, and would not be on Kubernetes.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from argoexec.controller.runtime.podnet import PodNet, in_namespace
from argoexec.controller.runtime.process import ContainerProcess, ExecResult
from argoexec.controller.runtime.status import PodResult

log = logging.getLogger("argoexec.controller.runtime")

LOCAL_HOST = "127.0.0.1"


class Execs(Protocol):
    def exec(
        self, pod_name: str, container: str, command: Any, *, timeout: float = 60.0
    ) -> ExecResult: ...


class Probers:
    """The readiness probes of one pod's containers, each on a thread of its own."""

    def __init__(self, runtime: Execs, result: PodResult, net: PodNet | None) -> None:
        self.runtime = runtime
        self.result = result
        self.net = net
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def watch(self, container: Mapping[str, Any], proc: ContainerProcess) -> None:
        probe = container.get("readinessProbe")
        if not probe:
            return
        proc.status.probed_ready = False
        thread = threading.Thread(
            target=self._run, args=(dict(probe), container, proc), daemon=True,
            name=f"probe-{container.get('name')}",
        )  # fmt: skip
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(
        self, probe: dict[str, Any], container: Mapping[str, Any], proc: ContainerProcess
    ) -> None:
        period = float(probe.get("periodSeconds") or 10)
        timeout = float(probe.get("timeoutSeconds") or 1)
        needed = int(probe.get("successThreshold") or 1)
        allowed = int(probe.get("failureThreshold") or 3)
        successes = failures = 0
        if self._stop.wait(float(probe.get("initialDelaySeconds") or 0)):
            return
        while not self._stop.is_set() and proc.status.exit_code is None:
            if proc.status.started_at is not None:
                ok = self._probe(probe, container, timeout)
                successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
                if successes >= needed:
                    proc.status.probed_ready = True
                elif failures >= allowed:
                    proc.status.probed_ready = False
            if self._stop.wait(period):
                return

    def _probe(
        self, probe: Mapping[str, Any], container: Mapping[str, Any], timeout: float
    ) -> bool:
        try:
            if probe.get("exec"):
                command = list((probe["exec"] or {}).get("command") or [])
                name = str(container["name"])
                done = self.runtime.exec(self.result.name, name, command, timeout=timeout)
                return done.exit_code == 0
            if probe.get("httpGet"):
                return self._in_pod(lambda: _http_get(probe["httpGet"], container, timeout))
            if probe.get("tcpSocket"):
                return self._in_pod(lambda: _tcp(probe["tcpSocket"], container, timeout))
        except (OSError, KeyError, ValueError, http.client.HTTPException) as exc:
            log.debug("pod %s: readiness probe of %s failed: %s", self.result.name,
                      container.get("name"), exc)  # fmt: skip
            return False
        return False

    def _in_pod(self, action: Any) -> bool:
        if self.net is None:
            return bool(action())
        return bool(in_namespace(self.net.path, action))


def port_of(value: Any, container: Mapping[str, Any]) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    text = str(value)
    if text.isdigit():
        return int(text)
    for port in container.get("ports") or []:
        if port.get("name") == text:
            return int(port["containerPort"])
    raise ValueError(f"container {container.get('name')!r} has no port named {text!r}")


def _http_get(action: Mapping[str, Any], container: Mapping[str, Any], timeout: float) -> bool:
    host = str(action.get("host") or LOCAL_HOST)
    port = port_of(action.get("port"), container)
    if str(action.get("scheme") or "HTTP").upper() == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {str(h.get("name")): str(h.get("value")) for h in action.get("httpHeaders") or []}
    try:
        conn.request("GET", str(action.get("path") or "/"), headers=headers)
        return 200 <= conn.getresponse().status < 400
    finally:
        conn.close()


def _tcp(action: Mapping[str, Any], container: Mapping[str, Any], timeout: float) -> bool:
    host = str(action.get("host") or LOCAL_HOST)
    with socket.create_connection((host, port_of(action.get("port"), container)), timeout):
        return True
