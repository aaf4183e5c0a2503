"""``argoexec kill`` and the emissary hand-over, as the controller invokes them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def argoexec(
    *args: str, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argoexec", *args],
        capture_output=True,
        text=True,
        env=env or {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        timeout=60,
        **kwargs,  # type: ignore[call-overload]
    )


def test_kill_sends_the_numeric_signal_and_says_so() -> None:
    target = subprocess.Popen(["sleep", "30"])
    try:
        result = argoexec("kill", "15", str(target.pid), "--loglevel", "info")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"killing {target.pid} with 15\n"
        assert target.wait(10) == -15
    finally:
        target.kill()


def test_kill_with_a_non_numeric_signal_is_a_usage_error() -> None:
    assert argoexec("kill", "TERM", "1").returncode == 2


def test_the_emissary_runs_through_the_main_entry_point(tmp_path: Path) -> None:
    (tmp_path / "template").write_text("{}")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "ARGOEXEC_VAR_RUN_DIR": str(tmp_path),
        "ARGOEXEC_TERMINATION_LOG": str(tmp_path / "termination-log"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "argoexec",
            "emissary",
            "--loglevel",
            "info",
            "--",
            "sh",
            "-c",
            "exit 5",
        ],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 5
    assert (tmp_path / "ctr" / "main" / "exitcode").read_text() == "5"


def emissary_env(var_run: Path) -> dict[str, str]:
    (var_run / "template").write_text("{}")
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "ARGOEXEC_VAR_RUN_DIR": str(var_run),
        "ARGOEXEC_TERMINATION_LOG": str(var_run / "termination-log"),
    }


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_emissary_help_is_help_and_runs_nothing(tmp_path: Path, flag: str) -> None:
    result = argoexec("emissary", flag, env=emissary_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: argoexec emissary [--loglevel LEVEL]")
    assert "-- CMD [ARGS...]" in result.stdout
    assert not (tmp_path / "ctr").exists()  # no container command was run
    # with global flags before the verb, and with a command after `--`, it is still help
    result = argoexec(
        "--loglevel", "debug", "emissary", flag, "--", "true", env=emissary_env(tmp_path)
    )
    assert (result.returncode, result.stdout.split("\n")[0]) == (
        0, "usage: argoexec emissary [--loglevel LEVEL] [--log-format text|json] [--gloglevel N]",
    )  # fmt: skip
    assert not (tmp_path / "ctr").exists()


def test_emissary_is_listed_with_the_other_sub_commands() -> None:
    result = argoexec("--help")
    assert result.returncode == 0
    assert re.search(r"^ {4}emissary +run a user container's command", result.stdout, re.M)


def test_help_after_the_double_dash_is_the_containers_command(tmp_path: Path) -> None:
    """As Argo's emissary: everything after `--` is the command, `--help` included."""
    result = argoexec("emissary", "--", "--help", env=emissary_env(tmp_path))
    assert result.returncode == 64
    assert 'exec: \\"--help\\": executable file not found' in result.stderr  # logfmt quoting
    assert (tmp_path / "ctr" / "main" / "exitcode").read_text() == "64"
    result = argoexec(
        "emissary", "--", "sh", "-c", 'echo "$1"', "sh", "--help", env=emissary_env(tmp_path)
    )
    assert (result.returncode, result.stdout) == (0, "--help\n")


def test_global_flags_before_the_verb_reach_the_emissary(tmp_path: Path) -> None:
    result = argoexec(
        "--log-format", "json", "emissary", "--", "sh", "-c", "exit 4", env=emissary_env(tmp_path)
    )
    assert result.returncode == 4
    assert (tmp_path / "ctr" / "main" / "exitcode").read_text() == "4"
    # any other flag before it is refused, naming the form that works
    result = argoexec("--kubeconfig", "x", "emissary", "--", "true", env=emissary_env(tmp_path))
    assert result.returncode == 2
    assert "write: argoexec emissary [FLAGS] -- CMD [ARGS...]" in result.stderr
