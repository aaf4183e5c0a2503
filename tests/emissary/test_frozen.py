"""The frozen in-container ``argoexec``: its dispatcher, and the built binary in an empty root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emissary.conftest import REPO, Emissary
from tests.servers.procs import require, require_binary, wait_until

BUILD_SCRIPT = REPO / "images" / "emissary" / "build.sh"
MISSING_PREREQUISITE = 3  # build.sh's exit status when a build tool cannot be had


def dispatch(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "argoexec.emissary.frozen", *args],
        env=env or {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        cwd=cwd,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


# --- the dispatcher as a plain Python process -------------------------------------------------


def test_kill_signals_the_process_and_says_so(sleeper: subprocess.Popen[bytes]) -> None:
    result = dispatch("kill", "15", str(sleeper.pid))
    assert result.returncode == 0
    assert result.stdout == f"killing {sleeper.pid} with 15\n".encode()
    assert sleeper.wait(10) == -signal.SIGTERM


def test_kill_accepts_global_flags_before_the_verb(sleeper: subprocess.Popen[bytes]) -> None:
    result = dispatch("--loglevel", "debug", "--log-format=json", "kill", "0", str(sleeper.pid))
    assert result.returncode == 0
    assert sleeper.poll() is None


def test_kill_of_a_missing_process_fails() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait(10)
    result = dispatch("kill", "0", str(gone.pid))
    assert result.returncode == 1
    assert b"No such process" in result.stderr


def test_kill_with_non_numeric_arguments_is_a_usage_error() -> None:
    result = dispatch("kill", "TERM", "1")
    assert result.returncode == 2
    assert b"must be integers" in result.stderr


def test_an_unknown_verb_prints_usage_and_exits_2() -> None:
    result = dispatch("wait")
    assert result.returncode == 2
    assert b"usage: argoexec emissary" in result.stderr


def test_emissary_help_is_help_and_after_the_double_dash_a_command(emissary: Emissary) -> None:
    result = dispatch("emissary", "--help", env=emissary.env())
    assert result.returncode == 0
    assert result.stdout.startswith(b"usage: argoexec emissary [--loglevel LEVEL]")
    assert not emissary.root.joinpath("ctr").exists()
    result = dispatch("emissary", "--", "--help", env=emissary.env())
    assert result.returncode == 64
    assert emissary.exitcode() == "64"


def test_emissary_runs_the_command_and_propagates_its_exit_code(emissary: Emissary) -> None:
    result = dispatch("emissary", "--", "sh", "-c", "exit 3", env=emissary.env(), cwd=emissary.work)
    assert result.returncode == 3
    assert emissary.exitcode() == "3"


def test_global_flags_reach_the_emissary(emissary: Emissary) -> None:
    # Without a template the emissary logs an error; the flag before the verb makes it JSON.
    (emissary.root / "template").unlink()
    result = dispatch("--log-format", "json", "emissary", "--", "true", env=emissary.env())
    assert result.returncode == 64
    lines = [json.loads(line) for line in result.stderr.decode().splitlines() if line]
    assert any("template" in json.dumps(line) for line in lines)


# --- the frozen binary (built by images/emissary/build.sh) in a root with nothing else in it ----


@pytest.fixture(scope="module")
def frozen_binary() -> Path:
    """Build the in-container emissary (a few seconds: one static link and a zip)."""
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    result = subprocess.run(
        ["sh", str(BUILD_SCRIPT)],
        env=dict(os.environ),
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    tail = result.stderr.decode(errors="replace")[-2000:]
    require(result.returncode != MISSING_PREREQUISITE, f"cannot build the frozen emissary: {tail}")
    assert result.returncode == 0, tail
    return REPO / "build" / "emissary" / "argoexec"


class EmptyRoot:
    """A bwrap sandbox whose root holds only /var/run/argo (with the binary) and /tmp."""

    def __init__(self, binary: Path, varrun: Path) -> None:
        self.binary, self.varrun = binary, varrun
        varrun.mkdir()

    def argv(self, *command: str, extra: tuple[str, ...] = ()) -> list[str]:
        bwrap = require_binary("bwrap")
        return [
            bwrap,
            "--die-with-parent",
            "--unshare-net",
            "--unshare-ipc",
            "--clearenv",
            "--setenv", "ARGO_CONTAINER_NAME", "main",
            "--tmpfs", "/",
            "--dir", "/tmp",
            "--bind", str(self.varrun), "/var/run/argo",
            "--ro-bind", str(self.binary), "/var/run/argo/argoexec",
            *extra,
            "--proc", "/proc",
            "--dev", "/dev",
            *command,
        ]  # fmt: skip

    def run(self, *command: str) -> subprocess.CompletedProcess[bytes]:
        # A PID namespace of its own: the user programs here signal PIDs.
        argv = self.argv(*command, extra=("--unshare-pid",))
        return subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)

    def exitcode(self) -> str:
        return (self.varrun / "ctr" / "main" / "exitcode").read_text()


@pytest.fixture
def empty_root(frozen_binary: Path, tmp_path: Path) -> EmptyRoot:
    return EmptyRoot(frozen_binary, tmp_path / "var-run-argo")


EMISSARY = ("/var/run/argo/argoexec", "emissary", "--")
FROZEN = "/var/run/argo/argoexec"  # the only program in the root: the binary itself


@pytest.mark.slow
def test_the_frozen_binary_is_a_static_executable(frozen_binary: Path) -> None:
    with frozen_binary.open("rb") as f:
        assert f.read(4) == b"\x7fELF"
    readelf = shutil.which("readelf")
    if readelf:
        headers = subprocess.run([readelf, "-l", str(frozen_binary)], capture_output=True)
        assert b"INTERP" not in headers.stdout  # no dynamic loader needed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("user_program", "code"),
    [(("kill", "0", "1"), 0), (("kill", "0", "999999"), 1), (("kill", "nonsense"), 2)],
)
def test_exit_codes_propagate_in_an_empty_root(
    empty_root: EmptyRoot, user_program: tuple[str, ...], code: int
) -> None:
    (empty_root.varrun / "template").write_text("{}")
    result = empty_root.run(*EMISSARY, FROZEN, *user_program)
    assert result.returncode == code, result.stderr
    assert empty_root.exitcode() == str(code)


@pytest.mark.slow
def test_outputs_are_collected_in_an_empty_root(empty_root: EmptyRoot) -> None:
    source = "/var/run/argo/template"
    template = {
        "outputs": {
            "parameters": [{"name": "p", "valueFrom": {"path": source}}],
            "artifacts": [{"name": "a", "path": source}],
        }
    }
    (empty_root.varrun / "template").write_text(json.dumps(template))
    result = empty_root.run(*EMISSARY, FROZEN, "kill", "0", "1")
    assert result.returncode == 0, result.stderr
    outputs = empty_root.varrun / "outputs"
    parameter = outputs / "parameters" / "var" / "run" / "argo" / "template"
    assert json.loads(parameter.read_text()) == template
    with tarfile.open(outputs / "artifacts" / "var" / "run" / "argo" / "template.tgz") as tar:
        assert tar.getnames() == ["template"]


@pytest.mark.slow
def test_sigterm_to_the_frozen_pid_1_reaches_the_user_program(empty_root: EmptyRoot) -> None:
    # The controller's `argoexec kill 15 1` signals PID 1, the emissary itself; it must reach
    # the user program and come back as its exit code.
    (empty_root.varrun / "template").write_text("{}")
    host_usr = ("--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin")
    for lib in ("lib", "lib64"):
        if Path(f"/{lib}").is_symlink():
            host_usr += ("--symlink", f"usr/{lib}", f"/{lib}")
    argv = empty_root.argv(*EMISSARY, "/bin/sleep", "30", extra=host_usr)
    sandbox = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        children = Path(f"/proc/{sandbox.pid}/task/{sandbox.pid}/children")
        ctr = empty_root.varrun / "ctr" / "main"
        wait_until(lambda: ctr.is_dir() and children.read_text().strip() != "", 30, "emissary")
        outermost = int(children.read_text().split()[0])
        os.kill(outermost, signal.SIGTERM)
        assert sandbox.wait(30) == 128 + signal.SIGTERM
        assert empty_root.exitcode() == str(128 + signal.SIGTERM)
    finally:
        if sandbox.poll() is None:
            sandbox.kill()
            sandbox.wait(10)
        assert sandbox.stderr is not None
        sandbox.stderr.close()
