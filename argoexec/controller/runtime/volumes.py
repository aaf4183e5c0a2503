"""A pod's volumes on the host, and each container's ``volumeMounts`` as sandbox binds.

Layout of one pod's directory (``PodDirs``)::

    <root>/<pod>/volumes/<volume>     emptyDir, and the files of secret / configMap volumes
    <root>/<pod>/termination/<ctr>    the file bound at the container's terminationMessagePath
    <root>/<pod>/tmp/<ctr>            TMPDIR of an unsandboxed container
    <root>/<pod>/logs/<ctr>.log       stdout and stderr of the container (kept by cleanup)
    <root>/<pod>/processes/<ctr>      "<pid> <start ticks>" of the container's host process,
                                      the leader of its session: what ``argoexec stop`` ends
                                      if the process that ran the workflow died first
    <root>/<pod>/supervisor/          the pod as its supervisor runs it when pods outlive their
                                      controller (``controller.loop.podfiles``): kept when the
                                      pod starts, removed with the rest by cleanup

Volume kinds, as the kubelet would provide them: ``emptyDir`` → a fresh directory of the pod;
``hostPath`` → the host path itself (``type`` checked or created); ``persistentVolumeClaim`` → a
directory per claim under the runtime's claims root, shared across pods; ``secret`` → files
copied from the caller's secrets directory (``<secretName>/<key>``); ``configMap`` → files from
the caller's data. Secret and configMap volumes are always read-only, as in Kubernetes.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from argoexec.controller.runtime.env import OBJECT_NAME, read_secret
from argoexec.controller.sandbox import Mount
from argoexec.errors import os_cause

_DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume or mount the runtime cannot provide: the pod does not start. Messages are the
    kubelet's (``MountVolume.SetUp failed for volume "x" : secret "y" not found``)."""


_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class PodDirs:
    root: Path

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, container: str) -> Path:
        return self.logs / f"{container}.log"

    def termination(self, container: str) -> Path:
        return self.root / "termination" / container

    def tmp(self, container: str) -> Path:
        return self.root / "tmp" / container

    def process(self, container: str) -> Path:
        return self.root / "processes" / container

    def recorded_processes(self) -> list[tuple[int, str | None]]:
        """(pid, start ticks) of the containers' recorded host processes."""
        found: list[tuple[int, str | None]] = []
        folder = self.root / "processes"
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            try:
                words = path.read_text().split()
                found.append((int(words[0]), words[1] if len(words) > 1 else None))
            except (OSError, ValueError, IndexError):
                continue  # half-written (a full disk): nothing to go by
        return found

    @property
    def supervisor(self) -> Path:
        return self.root / "supervisor"

    def create(self) -> None:
        for path in (
            self.volumes,
            self.logs,
            self.root / "termination",
            self.root / "tmp",
            self.root / "processes",
        ):
            path.mkdir(parents=True, exist_ok=True)

    def remove_all_but_logs(self) -> None:
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry != self.logs:
                remove(entry)

    def fresh(self) -> None:
        """The directories of a pod about to start (`reset`, then `create`), with no log of an
        earlier pod of this name."""
        self.reset()
        self.create()
        for old in self.logs.glob("*.log"):
            old.unlink()

    def reset(self) -> None:
        """What a pod starting under this name must not find: everything but its logs and the
        supervisor's files (written before the pod starts)."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry not in (self.logs, self.supervisor):
                remove(entry)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # Containers may leave read-only directories behind (e.g. staged inputs, mode 0555).
        for parent, dirs, _ in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(parent, name), 0o700)
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class PodVolumes:
    """The host side of ``spec.volumes`` for one pod."""

    def __init__(
        self,
        dirs: PodDirs,
        volumes: Sequence[Mapping[str, Any]],
        *,
        secrets: Path | None,
        config_maps: Mapping[str, Mapping[str, str]],
        claims: Path,
    ) -> None:
        self.dirs = dirs
        self.specs = {str(v["name"]): v for v in volumes}
        self.secrets = secrets
        self.config_maps = config_maps
        self.claims = claims
        self._paths: dict[str, Path] = {}

    def prepare(self) -> None:
        for name, spec in self.specs.items():
            if not _LABEL.fullmatch(name) or len(name) > 63:
                raise VolumeError(f"volume name {name!r} is not a valid DNS-1123 label")
            try:
                self._paths[name] = self._provide(name, spec)
            except (VolumeError, OSError) as exc:
                cause = os_cause(exc) if isinstance(exc, OSError) else str(exc)
                raise VolumeError(
                    f'MountVolume.SetUp failed for volume "{name}" : {cause}'
                ) from None

    def host_path(self, name: str) -> Path:
        try:
            return self._paths[name]
        except KeyError:
            raise VolumeError(f'volume "{name}" is not defined in the pod') from None

    def mounts(self, container: Mapping[str, Any]) -> list[Mount]:
        """The container's ``volumeMounts`` as binds, parents before the mounts nested in them."""
        found = [self._mount(m) for m in container.get("volumeMounts") or []]
        return sorted(found, key=lambda m: len(PurePosixPath(m.target).parts))

    def _mount(self, mount: Mapping[str, Any]) -> Mount:
        name = str(mount["name"])
        source = self.host_path(name)
        kind = _kind(self.specs[name])
        sub = str(mount.get("subPath") or "")
        if sub:
            source = _sub_path(name, source, sub, create=kind not in ("secret", "configMap"))
        read_only = bool(mount.get("readOnly")) or kind in ("secret", "configMap")
        return Mount(source, str(mount["mountPath"]), read_only=read_only)

    def _provide(self, name: str, spec: Mapping[str, Any]) -> Path:
        kind = _kind(spec)
        if kind == "emptyDir":
            path = self.dirs.volumes / name
            path.mkdir(mode=0o777, exist_ok=True)
            path.chmod(0o777)  # containers of any uid share it, as an emptyDir
            return path
        if kind == "hostPath":
            return _host_path(spec["hostPath"])
        if kind == "persistentVolumeClaim":
            claim = str(spec["persistentVolumeClaim"].get("claimName", ""))
            if not OBJECT_NAME.fullmatch(claim):
                raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
            path = self.claims / claim
            path.mkdir(parents=True, exist_ok=True)
            return path
        if kind == "secret":
            return self._secret(name, spec["secret"])
        if kind == "configMap":
            return self._config_map(name, spec["configMap"])
        raise VolumeError(f"the local runtime does not support {kind} volumes")

    def _secret(self, name: str, source: Mapping[str, Any]) -> Path:
        secret = str(source.get("secretName", ""))
        data = read_secret(self.secrets, secret)
        if data is None:
            if source.get("optional"):
                return self._files(name, {}, source)
            raise VolumeError(f'secret "{secret}" not found')
        return self._files(name, data, source, what="secret")

    def _config_map(self, name: str, source: Mapping[str, Any]) -> Path:
        config_map = str(source.get("name", ""))
        values = self.config_maps.get(config_map)
        if values is None:
            if source.get("optional"):
                return self._files(name, {}, source)
            raise VolumeError(f'configmap "{config_map}" not found')
        data = {k: v.encode() for k, v in values.items()}
        return self._files(name, data, source, what="config")

    def _files(
        self, name: str, data: Mapping[str, bytes], source: Mapping[str, Any], what: str = ""
    ) -> Path:
        """Project ``data`` into a directory: every key, or only ``items`` (key → path)."""
        folder = self.dirs.volumes / name
        folder.mkdir(exist_ok=True)
        default_mode = int(source.get("defaultMode", _DEFAULT_MODE))
        items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
        for item in items:
            key, rel = str(item["key"]), PurePosixPath(str(item["path"]))
            if rel.is_absolute() or ".." in rel.parts:
                raise VolumeError(f'item path "{rel}" must be relative and must not contain ".."')
            if key not in data:
                if source.get("optional"):
                    continue
                raise VolumeError(f"references non-existent {what} key: {key}")
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[key])
            target.chmod(int(item.get("mode", default_mode)))
        return folder


def _kind(spec: Mapping[str, Any]) -> str:
    kinds = [k for k in spec if k != "name"]
    return kinds[0] if kinds else "emptyDir"  # a volume with no source is an emptyDir


def _host_path(source: Mapping[str, Any]) -> Path:
    path = Path(str(source["path"]))
    kind = str(source.get("type") or "")
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif not path.exists():
        # type "" does no check in Kubernetes, but a bind needs a source.
        raise VolumeError(f"hostPath {path} does not exist on this machine")
    return path


def _sub_path(volume: str, root: Path, sub: str, *, create: bool) -> Path:
    """``subPath`` inside the volume ``root``; created if missing (not in secret and configMap
    volumes), as the kubelet does. A subPath that leads out of the volume, also through a
    symlink a container left in it, is refused (the kubelet's subPath safety checks)."""
    rel = PurePosixPath(sub)
    failed = f'failed to prepare subPath for volumeMount "{volume}"'
    if rel.is_absolute() or ".." in rel.parts:
        raise VolumeError(f"{failed}: subPath {sub!r} must be relative and must not contain '..'")
    source = root / rel
    if not source.exists() and not source.is_symlink():
        if not create:
            raise VolumeError(f"{failed}: {sub} does not exist in the volume")
        source.mkdir(parents=True, mode=0o777)
    if not source.resolve().is_relative_to(root.resolve()):
        raise VolumeError(f"{failed}: subPath {sub!r} leads out of the volume")
    return source
