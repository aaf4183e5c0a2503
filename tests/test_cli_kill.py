"""``argoexec kill`` and the emissary hand-over, as the controller invokes them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def argoexec(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "argoexec", *args],
        capture_output=True,
        text=True,
        env=env,
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
