"""Daemon pods of the local runtime have networks of their own: an address each on the runtime's
bridge (two can both listen on port 80 and reach each other), readiness probes, and nothing
left behind once they end (nor after a supervisor that died holding one)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.runtime import LocalRuntime
from argoexec.controller.runtime.podnet import NETNS_DIR, PodNetworks, unavailable
from argoexec.controller.sandbox import find_bubblewrap
from tests.controller.runtime_pods import Background, plain_pod
from tests.servers.procs import require, wait_until

SERVE = "mkdir /tmp/w && echo {who} > /tmp/w/who && cd /tmp/w && exec python3 -m http.server 80"
PROBE = {"httpGet": {"path": "/who", "port": "web"}, "periodSeconds": 1}


@pytest.fixture
def runtime(tmp_path: Path) -> LocalRuntime:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    why = unavailable()
    require(not why, f"pod networks: {why}")
    return LocalRuntime(tmp_path / "pods")


def daemon_pod(name: str, script: str, **main: Any) -> dict[str, Any]:
    """A pod whose template is a daemon's (its ARGO_TEMPLATE says so, as Argo's pods do)."""
    pod = plain_pod(name, {"main": script})
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "ARGO_TEMPLATE", "value": json.dumps({"daemon": True})}]
    container.update(main)
    return pod


def links() -> str:
    return subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout


def ready(runtime: LocalRuntime, name: str) -> bool:
    status = runtime.status(name)
    return status is not None and status.container("main").ready


def test_two_daemon_pods_both_listen_on_port_80_and_reach_each_other_by_address(
    runtime: LocalRuntime,
) -> None:
    ports = {"ports": [{"name": "web", "containerPort": 80}], "readinessProbe": PROBE}
    first = Background(runtime, daemon_pod("srv-a", SERVE.format(who="a"), **ports))
    second = Background(runtime, daemon_pod("srv-b", SERVE.format(who="b"), **ports))
    try:
        wait_until(lambda: ready(runtime, "srv-a") and ready(runtime, "srv-b"), timeout=60,
                   what="both servers to be ready")  # fmt: skip
        a, b = runtime.status("srv-a"), runtime.status("srv-b")
        assert a is not None and b is not None
        assert a.pod_ip != b.pod_ip and a.pod_ip.startswith("10.")
        assert a.to_k8s()["podIP"] == a.pod_ip
        # A pod of the host's network (the next step) reaches both by their addresses.
        fetch = f"curl -sf http://{a.pod_ip}/who http://{b.pod_ip}/who"
        client = runtime.run_pod(plain_pod("client", {"main": fetch}))
        assert client.phase == "Succeeded", runtime.logs("client", "main")
        assert runtime.logs("client", "main").split() == ["a", "b"]
        # And one daemon reaches the other from its own network.
        url = f"http://{b.pod_ip}/who"
        code = f"import urllib.request; print(urllib.request.urlopen({url!r}).read().decode())"
        done = runtime.exec("srv-a", "main", ["python3", "-c", code])
        assert (done.exit_code, done.stdout.strip()) == (0, "b"), done.stderr
    finally:
        runtime.kill("srv-a", None, signal.SIGKILL)
        runtime.kill("srv-b", None, signal.SIGKILL)
        first.result()
        second.result()
    networks = runtime.networks
    assert networks is not None
    assert networks.veth_prefix not in links() and networks.bridge not in links()
    assert not [p for p in NETNS_DIR.glob(f"{networks.bridge}-*")]


def test_a_container_is_ready_only_once_its_readiness_probe_succeeds(
    runtime: LocalRuntime,
) -> None:
    late = "sleep 2; " + SERVE.format(who="late")
    probe = {"tcpSocket": {"port": 80}, "periodSeconds": 1, "failureThreshold": 30}
    pod = Background(runtime, daemon_pod("late", late, readinessProbe=probe))
    try:
        pod.wait_running("main")
        assert not ready(runtime, "late")
        status = runtime.status("late")
        assert status is not None and status.to_k8s()["containerStatuses"][0]["ready"] is False
        wait_until(lambda: ready(runtime, "late"), timeout=30, what="the probe to succeed")
    finally:
        runtime.kill("late", None, signal.SIGKILL)
        pod.result()


def test_a_container_without_a_probe_is_ready_while_it_runs(runtime: LocalRuntime) -> None:
    pod = Background(runtime, daemon_pod("plain", "exec sleep 60"))
    try:
        pod.wait_running("main")
        assert ready(runtime, "plain")
    finally:
        runtime.kill("plain", None, signal.SIGKILL)
        pod.result()


def test_the_network_a_dead_process_left_is_swept_by_the_next_pod(tmp_path: Path) -> None:
    why = unavailable()
    require(not why, f"pod networks: {why}")
    networks = PodNetworks(tmp_path, notes=tmp_path / "notes")
    left = networks.attach()
    note = networks.dir / "ips" / left.name.rsplit("-", 1)[1]
    note.write_text("0")  # its holder is gone
    fresh = networks.attach()
    try:
        assert not left.path.exists() or fresh.name == left.name
        assert fresh.name == left.name  # its address was free again
    finally:
        networks.detach(fresh)
    assert networks.bridge not in links() and not fresh.path.exists()


def test_without_pod_networks_a_daemon_shares_the_host_network_at_127_0_0_1(
    tmp_path: Path,
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    runtime = LocalRuntime(tmp_path / "pods")
    runtime.networks, runtime.no_networks = None, "as without CAP_NET_ADMIN"
    result = runtime.run_pod(daemon_pod("shared", "cat /proc/net/dev"))
    assert result.phase == "Succeeded" and result.pod_ip == "127.0.0.1"
    # The pod saw this process's own network (the same interfaces).
    names = [line.split(":")[0].strip() for line in runtime.logs("shared", "main").splitlines()]
    ours = [line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()]
    assert sorted(names) == sorted(ours)


def test_a_pod_of_another_state_directory_sweeps_what_a_dead_process_left(
    tmp_path: Path,
) -> None:
    why = unavailable()
    require(not why, f"pod networks: {why}")
    notes = tmp_path / "notes"
    gone, alive = PodNetworks(tmp_path / "a", notes=notes), PodNetworks(tmp_path / "b", notes=notes)
    left = gone.attach()
    (gone.dir / "ips" / left.name.rsplit("-", 1)[1]).write_text("0")
    fresh = alive.attach()
    try:
        assert not left.path.exists() and not gone.dir.exists()
        assert gone.bridge not in links() and alive.bridge in links()
    finally:
        alive.detach(fresh)


def test_an_exec_that_outlives_its_timeout_is_killed_with_what_it_started(
    runtime: LocalRuntime,
) -> None:
    """As the kubelet kills an exec probe at its timeoutSeconds: nothing of it stays in the
    running pod (nsenter forks the command; killing nsenter alone left one each period)."""
    pod = Background(runtime, daemon_pod("hang", "exec sleep 60"))
    marker = "sleep 617.25"
    try:
        pod.wait_running("main")
        done = runtime.exec("hang", "main", ["sh", "-c", f"{marker} & {marker}"], timeout=0.5)
        assert done.exit_code != 0 and "timed out after 0.5s" in done.stderr
        left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
        assert left == "", f"processes of the exec left running: {left}"
    finally:
        runtime.kill("hang", None, signal.SIGKILL)
        pod.result()
