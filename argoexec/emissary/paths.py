"""The emissary's view of the shared ``/var/run/argo`` volume: the same layout as
:class:`argoexec.varrun.VarRun` (tests/emissary check the two agree), as plain strings.

``VarRun`` speaks ``pathlib``, whose import (with ``urllib.parse``, ``ipaddress``, ``fnmatch``,
``re``...) would cost every container's start several milliseconds; the emissary only needs
strings for ``os`` calls.
"""

from __future__ import annotations


class Layout:
    """Paths under ``root`` (a string); method names as ``VarRun``'s."""

    __slots__ = ("root",)

    def __init__(self, root: str) -> None:
        self.root = root

    @property
    def template(self) -> str:
        return f"{self.root}/template"

    def ctr(self, container: str) -> str:
        return f"{self.root}/ctr/{container}"

    def exitcode(self, container: str) -> str:
        return f"{self.root}/ctr/{container}/exitcode"

    def stdout(self, container: str) -> str:
        return f"{self.root}/ctr/{container}/stdout"

    def combined(self, container: str) -> str:
        return f"{self.root}/ctr/{container}/combined"

    def signal(self, container: str) -> str:
        return f"{self.root}/ctr/{container}/signal"

    def pause_marker(self, container: str, when: str) -> str:
        """``before`` / ``after`` debug-pause release markers."""
        return f"{self.root}/ctr/{container}/{when}"

    def output_parameter(self, path: str) -> str:
        """The copy of the parameter file at ``path`` (the absolute path appended)."""
        return f"{self.root}/outputs/parameters/{path.lstrip('/')}"

    def output_artifact(self, path: str) -> str:
        """The ``.tgz`` of the artifact at ``path`` (one trailing ``/`` removed)."""
        trimmed = path[:-1] if path.endswith("/") else path
        return f"{self.root}/outputs/artifacts/{trimmed.lstrip('/')}.tgz"
