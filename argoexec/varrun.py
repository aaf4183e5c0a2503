"""The layout of the shared ``/var/run/argo`` volume (argo-contract.md §2.1). Stdlib only.

The root is injectable so tests and the local runtime can place it anywhere.
"""

from __future__ import annotations

from pathlib import Path

from argoexec.contract import VAR_RUN_ARGO


class VarRun:
    """An immutable value (equality and hash by root); a plain class rather than a dataclass
    because importing ``dataclasses`` costs the emissary's start several milliseconds."""

    __slots__ = ("root",)
    root: Path

    def __init__(self, root: Path = Path(VAR_RUN_ARGO)) -> None:
        object.__setattr__(self, "root", root)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"VarRun is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VarRun) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"VarRun(root={self.root!r})"

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
