"""The fixed paths of a workflow pod (argo-contract.md §1.2, §2.1), injectable for tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from argoexec import contract as c
from argoexec.varrun import VarRun


@dataclass(frozen=True)
class PodPaths:
    varrun: VarRun = field(default_factory=VarRun)
    inputs: Path = Path(c.INPUT_ARTIFACTS_DIR)
    staging_script: Path = Path(c.STAGING_SCRIPT)
    mainctrfs: Path = Path(c.MAINCTRFS)
    secrets: Path = Path(c.SECRETS_DIR)
    manifest: Path = Path(c.MANIFEST_PATH)
    offloaded_template: Path = Path(c.OFFLOADED_TEMPLATE_PATH)
    termination_log: Path = Path(c.TERMINATION_LOG)

    @classmethod
    def of(
        cls,
        var_run_dir: Path | None,
        termination_log: Path | None,
        path_map: Sequence[tuple[str, str]] = (),
    ) -> PodPaths:
        """Argo's paths, with /var/run/argo and the termination log moved where asked, and the
        others through ``path_map`` (container mount path → host path, deepest mount wins)."""
        paths = cls()
        if path_map:
            mounts = sorted(path_map, key=lambda m: -len(m[0].rstrip("/")))
            paths = replace(
                paths,
                inputs=_mapped(paths.inputs, mounts),
                staging_script=_mapped(paths.staging_script, mounts),
                mainctrfs=_mapped(paths.mainctrfs, mounts),
                secrets=_mapped(paths.secrets, mounts),
                manifest=_mapped(paths.manifest, mounts),
                offloaded_template=_mapped(paths.offloaded_template, mounts),
            )
        if var_run_dir is not None:
            paths = replace(paths, varrun=VarRun(var_run_dir))
        if termination_log is not None:
            paths = replace(paths, termination_log=termination_log)
        return paths

    def mirror(self, path: str) -> Path:
        """Main's ``path`` as the executor sees it through the mirrored volume mounts."""
        return Path(f"{self.mainctrfs}/{path.lstrip('/')}")


def _mapped(path: Path, mounts: Sequence[tuple[str, str]]) -> Path:
    text = str(path)
    for target, source in mounts:
        root = target.rstrip("/")
        if text == root:
            return Path(source)
        if text.startswith(root + "/"):
            return Path(source) / text[len(root) + 1 :]
    return path
