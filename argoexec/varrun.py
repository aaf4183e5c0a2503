"""The layout of the shared ``/var/run/argo`` volume (argo-contract.md §2.1). Stdlib only.

The root is injectable so tests and the local runtime can place it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from argoexec.contract import VAR_RUN_ARGO


@dataclass(frozen=True)
class VarRun:
    root: Path = Path(VAR_RUN_ARGO)

    @property
    def template(self) -> Path:
        return self.root / "template"

    @property
    def executable(self) -> Path:
        return self.root / "argoexec"

    @property
    def progress(self) -> Path:
        return self.root / "progress"

    def ctr(self, container: str) -> Path:
        return self.root / "ctr" / container

    def exitcode(self, container: str) -> Path:
        return self.ctr(container) / "exitcode"

    def stdout(self, container: str) -> Path:
        return self.ctr(container) / "stdout"

    def combined(self, container: str) -> Path:
        return self.ctr(container) / "combined"

    def signal(self, container: str) -> Path:
        return self.ctr(container) / "signal"

    def pause_marker(self, container: str, when: str) -> Path:
        """``before`` / ``after`` debug-pause release markers."""
        return self.ctr(container) / when

    def output_parameter(self, path: str) -> Path:
        """Where main's emissary copies the parameter file at ``path``: the absolute path is
        appended verbatim (``/tmp/x`` -> ``<root>/outputs/parameters//tmp/x`` in Argo; the
        doubled slash is harmless)."""
        return Path(f"{self.root}/outputs/parameters/{path.lstrip('/')}")

    def output_artifact(self, path: str) -> Path:
        """The ``.tgz`` main's emissary writes for the artifact at ``path`` (one trailing ``/``
        removed): ``/tmp/out/`` -> ``<root>/outputs/artifacts/tmp/out.tgz``."""
        trimmed = path[:-1] if path.endswith("/") else path
        return Path(f"{self.root}/outputs/artifacts/{trimmed.lstrip('/')}.tgz")
