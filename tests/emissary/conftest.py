"""Run the emissary as a real subprocess over a temporary /var/run/argo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Emissary:
    root: Path  # the fake /var/run/argo
    work: Path  # scratch dir standing in for the container's /tmp
    termination_log: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "ARGO_CONTAINER_NAME": "main",
            "ARGO_INCLUDE_SCRIPT_OUTPUT": "true",
            "ARGOEXEC_VAR_RUN_DIR": str(self.root),
            "ARGOEXEC_TERMINATION_LOG": str(self.termination_log),
        }
        env.update(extra)
        return env

    def write_template(self, template: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "template").write_text(json.dumps(template))

    def run(
        self, *command: str, timeout: float = 30, **env: str
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "argoexec.emissary.main", "--loglevel", "debug", "--", *command],
            env=self.env(**env),
            cwd=self.work,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *command: str, **env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "argoexec.emissary.main", "--", *command],
            env=self.env(**env),
            cwd=self.work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    def file(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def exitcode(self, ctr: str = "main") -> str:
        return self.file("ctr", ctr, "exitcode").read_text()


@pytest.fixture
def emissary(tmp_path: Path) -> Emissary:
    e = Emissary(tmp_path / "var-run-argo", tmp_path / "work", tmp_path / "termination-log")
    e.work.mkdir()
    e.write_template({})
    return e


ScriptRunner = Callable[..., subprocess.CompletedProcess[bytes]]
