"""Each locally built image runs as Argo runs containers: read-only root, an arbitrary user."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.podman.images import RUN_OPTIONS, podman

pytestmark = pytest.mark.podman


def test_busybox_has_a_shell_and_its_applets(busybox_image: str) -> None:
    result = podman("run", *RUN_OPTIONS, busybox_image, "sh", "-c", "echo $((6 * 7)); id -u; ls /")
    assert result.returncode == 0, result.stderr
    out = result.stdout.split()
    assert out[:2] == ["42", "4242"]
    assert "bin" in out


def test_scratch_runs_its_entrypoint_tool(scratch_image: str) -> None:
    echo = podman("run", *RUN_OPTIONS, scratch_image, "echo", "hello", "scratch")
    assert (echo.returncode, echo.stdout) == (0, "hello scratch\n"), echo.stderr
    err = podman("run", *RUN_OPTIONS, scratch_image, "err", "to", "stderr")
    assert (err.returncode, err.stdout, err.stderr) == (0, "", "to stderr\n")
    assert podman("run", *RUN_OPTIONS, scratch_image, "exit", "7").returncode == 7
    env = podman("run", *RUN_OPTIONS, "-e", "GREETING=hi", scratch_image, "env", "GREETING")
    assert env.stdout == "hi\n"


def test_scratch_writes_files_into_a_volume(scratch_image: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)  # the container's user 4242 writes here
    volume = f"{tmp_path}:/out"
    result = podman("run", *RUN_OPTIONS, "-v", volume, scratch_image, "write", "/out/p", "v 1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p").read_text() == "v 1"
    back = podman("run", *RUN_OPTIONS, "-v", volume, scratch_image, "cat", "/out/p")
    assert back.stdout == "v 1"


def test_scratch_has_no_shell(scratch_image: str) -> None:
    result = podman("run", *RUN_OPTIONS, "--entrypoint", "/bin/sh", scratch_image, "-c", "true")
    assert result.returncode != 0


@pytest.fixture
def loopback_http() -> Iterator[str]:
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_python_runs_scripts_and_reaches_loopback(python_image: str, loopback_http: str) -> None:
    script = (
        "import sys, urllib.request; "
        "print(sys.version_info[:2]); "
        f"print(urllib.request.urlopen({loopback_http!r}).read().decode(), end='')"
    )
    result = podman("run", *RUN_OPTIONS, python_image, "python", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "(3, 11)\nhello from the host\n"


def test_executor_answers_version_and_help_on_a_read_only_root(executor_image: str) -> None:
    options = ("--rm", "--network", "host", "--read-only", "--user", "12345")
    version = podman("run", *options, executor_image, "version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("argoexec: v")
    help_ = podman("run", *options, executor_image, "artifact", "--help")
    assert help_.returncode == 0, help_.stderr
    assert "usage: argoexec artifact" in help_.stdout


def test_executor_image_carries_the_emissary(executor_image: str) -> None:
    script = 'test -x "$ARGOEXEC_EMISSARY_BINARY" && echo "$ARGOEXEC_EMISSARY_BINARY"'
    result = podman(
        "run", *RUN_OPTIONS, "--entrypoint", "sh", executor_image, "-c", script
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("/")
