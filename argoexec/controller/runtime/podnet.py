"""Pod networks of the ``local`` runtime: a network namespace and an address of its own for a pod.

Which pods get one is the runtime's policy (`pod_network_policy`): under ``auto`` (the
default) a pod of a daemon template (Argo's `daemon: true`) and a pod with `sidecars`, so that
two daemons or two nginx sidecars can both listen on port 80 and a daemon is reached at
``{{steps.X.ip}}``; under ``pod`` every pod, as on Kubernetes; under ``host`` none. The
network is the runtime's own, made with iproute2 (``ip``) and removed by it:

* one Linux bridge per runtime root (state directory), ``axbr<hash>``, with the first address of
  a private /24 from 10.200.0.0/13 that no route of this host covers;
* per pod, a named network namespace ``axbr<hash>-<n>`` and a veth pair, its host end on the
  bridge, its pod end ``eth0`` with ``10.x.y.<n>/24`` and a default route via the bridge;
  ports below 1024 are open to the pod's (user-namespaced) root, as container runtimes do;
* removed when the pod ends (deleting the namespace deletes the veth pair); the bridge goes with
  the last pod. Each address is noted in ``/run/argoexec/podnet/<bridge>/ips/<n>`` with the pid of
  the process that holds it (``/run`` goes at a reboot with the interfaces it describes): a
  process that died without removing its pods' namespaces (a crashed supervisor) leaves notes
  that the next pod's setup, of any runtime root, sweeps away with what they name.

Nothing of the host's own interfaces, routes or sysctls is touched: no forwarding, no NAT (a pod
reaches this host at the bridge's address, not the internet). Only the pod's own containers join
its namespace: the executor's (``init``, ``wait``) stay on the host's network, where the API
server and the artifact repositories the controller was given listen (often on loopback).

Creating interfaces needs CAP_NET_ADMIN (root). Without it (`unavailable` says why), or under
``host``, pods share the host's network: a daemon's address is then 127.0.0.1.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from argoexec.contract import POD_NETWORK_AUTO, POD_NETWORK_POD
from argoexec.controller.runtime.pod_network_policy import pod_template, wants_own_network
from argoexec.controller.runtime.status import PodResult

log = logging.getLogger("argoexec.controller.runtime")

HOST_ADDRESS = "127.0.0.1"  # a pod's address when it shares the host's network
POOL = ipaddress.ip_network("10.200.0.0/13")  # 2048 /24s to choose a runtime's subnet from
NETNS_DIR = Path("/run/netns")  # where `ip netns add` pins namespaces
NOTES_DIR = Path("/run/argoexec/podnet")  # per bridge: its subnet, and who holds each address
_CAP_NET_ADMIN = 12
_CLONE_NEWNET = 0x40000000
_IP_TIMEOUT = 10.0
_T = TypeVar("_T")


class NetworkError(Exception):
    """The pod's network could not be set up (the kubelet's FailedCreatePodSandBox)."""


@dataclass(frozen=True)
class PodNet:
    """One pod's network: its namespace (a path to join it by) and address."""

    name: str
    ip: str

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def entered(self, argv: Sequence[str]) -> list[str]:
        """`argv` run in this network (nsenter execs it: its pid is the one started)."""
        return ["nsenter", f"--net={self.path}", "--", *argv]


def set_up(
    networks: PodNetworks | None,
    why_not: str,
    pod: Mapping[str, Any],
    result: PodResult,
    policy: str = POD_NETWORK_AUTO,
) -> PodNet | None:
    """The pod's own network if `policy` gives it one and this host can make one (`result`
    gets its address); a daemon's pod that has none shares the host's network, at
    127.0.0.1. `NetworkError` if making it failed."""
    template = pod_template(pod)
    daemon = template.get("daemon") is True
    if not wants_own_network(template, policy):
        if daemon:
            result.pod_ip = HOST_ADDRESS
        return None
    if networks is None:
        level = logging.WARNING if daemon or policy == POD_NETWORK_POD else logging.INFO
        log.log(level, "local runtime: pod %s shares the host's network: %s", result.name, why_not)
        if daemon:
            result.pod_ip = HOST_ADDRESS
        return None
    net = networks.attach()
    result.pod_ip = net.ip
    return net


def hosts_file(path: Path, net: PodNet, hostname: str) -> Path:
    """The kubelet-managed /etc/hosts of a pod: its name resolves to its address (no DNS
    server is reachable from its network)."""
    path.write_text(
        f"# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
        f"::1\tlocalhost ip6-localhost ip6-loopback\n{net.ip}\t{hostname[:63]}\n",
        encoding="utf-8",
    )
    return path


def unavailable() -> str:
    """Why pods cannot have networks of their own here ("" if they can)."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if shutil.which("nsenter") is None:
        return "nsenter (util-linux) is not installed"
    try:
        status = Path("/proc/self/status").read_text(encoding="utf-8")
    except OSError as exc:
        return f"cannot read /proc/self/status: {exc.strerror}"
    for line in status.splitlines():
        if line.startswith("CapEff:") and int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1:
            return ""
    return "creating network interfaces needs CAP_NET_ADMIN (run as root)"


class PodNetworks:
    """The pod networks of one runtime root; safe across the processes sharing that root."""

    def __init__(self, root: Path, notes: Path = NOTES_DIR) -> None:
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()
        self.bridge = f"axbr{digest[:8]}"
        self.veth_prefix = veth_prefix(self.bridge)
        self.notes = notes
        self.dir = notes / self.bridge

    # --- a pod's network ----------------------------------------------------------------------

    def attach(self) -> PodNet:
        """A new namespace with its own address on the runtime's bridge."""
        with self._locked():
            for other in sorted(self.notes.glob("axbr*")):
                if other.name != self.bridge:
                    PodNetworks.of_bridge(other.name, self.notes).sweep(locked=True)
            self._sweep()
            subnet = self._bridge()
            number = self._allocate()
        net = PodNet(f"{self.bridge}-{number}", str(subnet.network_address + number))
        gateway = str(subnet.network_address + 1)
        veth = f"{self.veth_prefix}{number}"
        try:
            _ip([], f"netns add {net.name}\n"
                    f"link add {veth} type veth peer name eth0 netns {net.name}\n"
                    f"link set {veth} master {self.bridge} up\n")  # fmt: skip
            address = f"{net.ip}/{subnet.prefixlen}"
            inside = f"link set lo up\naddr add {address} dev eth0\nlink set eth0 up\n"
            _ip(["-n", net.name], f"{inside}route add default via {gateway}\n")
            # The pod's root is root of its own user namespace only: as in containerd's pods,
            # it may listen on port 80 of its own network.
            in_namespace(net.path, _open_low_ports)
        except (NetworkError, OSError) as exc:
            self.detach(net)
            raise NetworkError(f"pod network {net.name} ({net.ip}): {exc}") from None
        return net

    def detach(self, net: PodNet) -> None:
        """Remove the pod's namespace (and with it its veth pair); the bridge goes with the
        last pod."""
        with self._locked():
            self._remove(net.name, net.name.rsplit("-", 1)[1])
            self._drop_if_unused()

    @classmethod
    def of_bridge(cls, bridge: str, notes: Path = NOTES_DIR) -> PodNetworks:
        found = cls.__new__(cls)
        found.bridge, found.veth_prefix = bridge, veth_prefix(bridge)
        found.notes, found.dir = notes, notes / bridge
        return found

    def sweep(self, *, locked: bool = False) -> None:
        """Remove what processes that died left of this bridge's pods (and the bridge, if no
        pod is left). `locked`: the caller holds the lock."""
        if not locked:
            with self._locked():
                self.sweep(locked=True)
            return
        self._sweep()
        self._drop_if_unused()

    # --- under the lock ---------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The one lock of every runtime's pod networks on this machine (a pod's set-up takes
        some 25 ms under it): a bridge's notes go with its last pod, never while another
        process is adding one."""
        self.notes.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.notes / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _ips(self) -> Path:
        ips = self.dir / "ips"
        ips.mkdir(parents=True, exist_ok=True)
        return ips

    def _drop_if_unused(self) -> None:
        if not any(self._ips().iterdir()):
            if Path(f"/sys/class/net/{self.bridge}").exists():
                _quiet(["link", "del", self.bridge])
            shutil.rmtree(self.dir, ignore_errors=True)

    def _sweep(self) -> None:
        """Forget the pods of processes that died holding them."""
        for note in self._ips().iterdir():
            try:
                pid = int(note.read_text(encoding="utf-8") or "0")
            except (OSError, ValueError):
                pid = 0
            if not _alive(pid):
                log.info("pod network: removing %s-%s, left by process %s", self.bridge,
                         note.name, pid)  # fmt: skip
                self._remove(f"{self.bridge}-{note.name}", note.name)

    def _remove(self, name: str, number: str) -> None:
        # The veth pair first: deleting a namespace removes its interfaces only later (the
        # kernel's cleanup work), deleting the pair is done when `ip` returns.
        _quiet(["link", "del", f"{self.veth_prefix}{number}"])
        if (NETNS_DIR / name).exists():
            _quiet(["netns", "del", name])
        (self._ips() / number).unlink(missing_ok=True)

    def _allocate(self) -> int:
        for number in range(2, 255):
            try:
                fd = os.open(self._ips() / str(number), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as note:
                note.write(str(os.getpid()))
            return number
        raise NetworkError(f"bridge {self.bridge}: all 253 pod addresses are in use")

    def _bridge(self) -> ipaddress.IPv4Network:
        """The runtime's bridge (made if missing) and its subnet."""
        self.dir.mkdir(parents=True, exist_ok=True)
        kept = self.dir / "subnet"
        subnet = ipaddress.IPv4Network(kept.read_text().strip()) if kept.exists() else None
        if not Path(f"/sys/class/net/{self.bridge}").exists():
            if subnet is None or _overlaps(subnet):
                subnet = _free_subnet(self.bridge)
                kept.write_text(str(subnet), encoding="utf-8")
            gateway = f"{subnet.network_address + 1}/{subnet.prefixlen}"
            _ip([], f"link add {self.bridge} type bridge\naddr add {gateway} dev {self.bridge}\n"
                    f"link set {self.bridge} up\n")  # fmt: skip
        assert isinstance(subnet, ipaddress.IPv4Network)
        return subnet


def veth_prefix(bridge: str) -> str:
    """The host ends of a bridge's veth pairs: `axv<6 hex>n<number>` (15 characters at most)."""
    return f"axv{bridge[4:10]}n"


def in_namespace(path: Path, action: Callable[[], _T]) -> _T:
    """`action()` run on a thread of its own that joined the network namespace at `path`
    (sockets it opens belong to that namespace; the caller's threads are not moved)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns {path}: {os.strerror(code)}")
            finally:
                os.close(fd)
            outcome.append((True, action()))
        except BaseException as exc:  # handed to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="netns")
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _open_low_ports() -> None:
    Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").write_text("0", encoding="utf-8")


def _ip(options: list[str], batch: str) -> None:
    try:
        done = subprocess.run(["ip", *options, "-batch", "-"], input=batch, capture_output=True,
                              text=True, timeout=_IP_TIMEOUT, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkError(f"ip: {exc}") from None
    if done.returncode != 0:
        raise NetworkError(f"ip {' '.join(options)}: {done.stderr.strip()}")


def _quiet(args: list[str]) -> None:
    try:
        subprocess.run(["ip", *args], capture_output=True, timeout=_IP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("pod network: ip %s: %s", " ".join(args), exc)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _routes() -> list[ipaddress.IPv4Network]:
    argv = ["ip", "-j", "-4", "route", "show", "table", "all"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_IP_TIMEOUT, check=False)
    found = []
    for route in json.loads(done.stdout or "[]"):
        dst = str(route.get("dst") or "")
        if dst and dst != "default":
            try:
                found.append(ipaddress.ip_network(dst, strict=False))
            except ValueError:
                continue
    return [r for r in found if isinstance(r, ipaddress.IPv4Network) and r.prefixlen > 0]


def _overlaps(subnet: ipaddress.IPv4Network) -> bool:
    return any(subnet.overlaps(route) for route in _routes())


def _free_subnet(bridge: str) -> ipaddress.IPv4Network:
    """A /24 of `POOL` no route covers, the first tried chosen by the bridge's name (runtimes
    of different roots start from different places)."""
    routes = _routes()
    subnets = [ipaddress.IPv4Network(s) for s in POOL.subnets(new_prefix=24)]
    start = int(hashlib.sha256(bridge.encode()).hexdigest(), 16) % len(subnets)
    for offset in range(len(subnets)):
        subnet = subnets[(start + offset) % len(subnets)]
        if not any(subnet.overlaps(route) for route in routes):
            return subnet
    raise NetworkError(f"no /24 of {POOL} is free on this host for bridge {bridge}")
