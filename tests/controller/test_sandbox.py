"""The bubblewrap sandbox of the local runtime: private /tmp, volumes at their mount paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from argoexec.controller import sandbox
from argoexec.controller.sandbox import Mount, bwrap_argv, find_bwrap
from tests.servers.procs import require


def run(command: str, mounts: list[Mount]) -> subprocess.CompletedProcess[str]:
    bwrap = find_bwrap()
    require(bwrap is not None, "bubblewrap (bwrap) is not installed")
    assert bwrap is not None
    argv = bwrap_argv(["sh", "-c", command], mounts, bwrap=bwrap)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_the_hosts_tmp_is_not_visible_and_the_sandboxes_tmp_is_private(tmp_path: Path) -> None:
    marker = tmp_path / "host-only"
    marker.write_text("x")
    own = f"/tmp/own-{tmp_path.name}"
    result = run(f"test -e {marker} && echo visible; echo inside > {own}; cat {own}", [])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "inside\n"
    assert not Path(own).exists()


def test_a_volume_is_bound_at_its_mount_path_even_where_the_host_has_no_directory(
    tmp_path: Path,
) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    result = run(
        "echo data > /argo/inputs/x && echo run > /var/run/argo/y",
        [
            Mount(vol, "/argo/inputs"),
            Mount(vol, "/var/run/argo"),
        ],
    )
    assert result.returncode == 0, result.stderr
    assert (vol / "x").read_text() == "data\n"
    assert (vol / "y").read_text() == "run\n"


def test_a_read_only_volume_cannot_be_written(tmp_path: Path) -> None:
    vol = tmp_path / "ro"
    vol.mkdir()
    result = run("echo x > /argo/secret/s", [Mount(vol, "/argo/secret", read_only=True)])
    assert result.returncode != 0
    assert not (vol / "s").exists()


def test_a_project_checked_out_under_tmp_stays_visible_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "code.py").write_text("print('hi')\n")
    monkeypatch.setattr(sandbox, "_runtime_paths", lambda: {checkout})
    result = run(f"cat {checkout}/code.py && touch {checkout}/new", [])
    assert "print('hi')" in result.stdout
    assert result.returncode != 0  # read-only
    assert not (checkout / "new").exists()
