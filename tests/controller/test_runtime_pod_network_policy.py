"""Which pods of the local runtime get networks of their own (`--pod-network`): under `auto` a
pod with sidecars does (two of them at once both serve on port 80, each main reaching its own
sidecar on localhost) and a plain pod does not; under `pod` every pod does; under `host` none,
a daemon's address being 127.0.0.1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from argoexec.contract import POD_NETWORK_HOST, POD_NETWORK_POD
from argoexec.controller.runtime import LocalRuntime
from argoexec.controller.runtime.podnet import NETNS_DIR, unavailable
from argoexec.controller.sandbox import find_bubblewrap
from tests.controller.runtime_pods import Background, argo_pod, plain_pod
from tests.servers.procs import require

SIDECAR = "mkdir /tmp/w && echo {who} > /tmp/w/who && cd /tmp/w && exec python3 -m http.server 80"
FETCH = (
    "import urllib.request; print(urllib.request.urlopen('http://localhost/who').read().decode())"
)
CLIENT = (
    f'for i in $(seq 1 200); do python3 -c "{FETCH}" 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
)
INTERFACES = "cat /proc/net/dev"
NETNS = "readlink /proc/self/ns/net"  # the network namespace, by inode


def _interfaces(text: str) -> list[str]:
    return sorted(line.split(":")[0].strip() for line in text.splitlines() if ":" in line)


def _on_host_network(log: str) -> bool:
    """Whether a container that ran `NETNS` was in this process's network namespace (compared
    by identity: other tests may add and remove interfaces meanwhile)."""
    return log.strip() == os.readlink("/proc/self/ns/net")


def _runtime(tmp_path: Path, policy: str | None = None, *, networks: bool = True) -> LocalRuntime:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    if networks:
        why = unavailable()
        require(not why, f"pod networks: {why}")
    if policy is None:
        return LocalRuntime(tmp_path / "pods")
    return LocalRuntime(tmp_path / "pods", pod_network=policy)


def _daemon(pod: dict[str, object]) -> dict[str, object]:
    """`pod` made a daemon's: its ARGO_TEMPLATE says `daemon: true`, as Argo's pods do."""
    for container in pod["spec"]["initContainers"]:  # type: ignore[index]
        for var in container["env"]:
            if var["name"] == "ARGO_TEMPLATE":
                var["value"] = json.dumps({**json.loads(var["value"]), "daemon": True})
    return pod


def test_by_default_two_pods_with_sidecars_both_serve_on_port_80_each_to_its_own_main(
    tmp_path: Path,
) -> None:
    runtime = _runtime(tmp_path)
    first = Background(runtime, argo_pod("web-a", CLIENT, sidecar=SIDECAR.format(who="a")))
    second = Background(runtime, argo_pod("web-b", CLIENT, sidecar=SIDECAR.format(who="b")))
    a, b = first.result(), second.result()

    # The pod is Failed as the kubelet sees it (the sidecar ends by SIGTERM, 143), which Argo
    # ignores for the node: main's exit code is what counts.
    assert (a.container("main").exit_code, b.container("main").exit_code) == (0, 0)
    assert runtime.logs("web-a", "main").split() == ["a"]
    assert runtime.logs("web-b", "main").split() == ["b"]
    assert a.pod_ip.startswith("10.") and b.pod_ip.startswith("10.") and a.pod_ip != b.pod_ip
    assert runtime.networks is not None
    assert not list(NETNS_DIR.glob(f"{runtime.networks.bridge}-*"))  # both removed


def test_by_default_a_pod_without_sidecars_shares_the_host_network_and_has_no_address(
    tmp_path: Path,
) -> None:
    runtime = _runtime(tmp_path, networks=False)
    result = runtime.run_pod(argo_pod("plain", NETNS))
    assert result.phase == "Succeeded", result.message
    assert result.pod_ip == "" and "podIP" not in result.to_k8s()
    assert _on_host_network(runtime.logs("plain", "main"))


def test_under_pod_every_pod_has_a_network_and_address_of_its_own(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, POD_NETWORK_POD)
    result = runtime.run_pod(argo_pod("own", INTERFACES))
    assert result.phase == "Succeeded", result.message
    assert _interfaces(runtime.logs("own", "main")) == ["eth0", "lo"]
    assert result.pod_ip.startswith("10.") and result.to_k8s()["podIP"] == result.pod_ip


def test_under_host_a_pod_with_sidecars_shares_the_host_network(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, POD_NETWORK_HOST, networks=False)
    result = runtime.run_pod(argo_pod("shared", NETNS, sidecar="exec sleep 60"))
    assert result.container("main").exit_code == 0
    assert result.pod_ip == ""
    assert _on_host_network(runtime.logs("shared", "main"))


def test_under_host_a_daemon_is_at_127_0_0_1(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, POD_NETWORK_HOST, networks=False)
    result = runtime.run_pod(_daemon(argo_pod("daemon", NETNS)))
    assert result.phase == "Succeeded", result.message
    assert result.pod_ip == "127.0.0.1"
    assert _on_host_network(runtime.logs("daemon", "main"))


def test_a_policy_other_than_auto_pod_or_host_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pod network 'bridge': must be one of auto, pod, host"):
        LocalRuntime(tmp_path / "pods", pod_network="bridge")


def test_without_pod_networks_a_pod_under_pod_shares_the_host_network(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, POD_NETWORK_POD, networks=False)
    runtime.networks, runtime.no_networks = None, "as without CAP_NET_ADMIN"
    result = runtime.run_pod(plain_pod("fallback", {"main": NETNS}))
    assert result.phase == "Succeeded" and result.pod_ip == ""
    assert _on_host_network(runtime.logs("fallback", "main"))
