"""A node's artifacts in the web view: located as the controller records them (a key in the
workflow's artifact repository, or a full location), opened through the artifact drivers, and
previewed: the entries of an archive, the start of a text.

Previews are bounded: at most ``PREVIEW_BYTES`` of text, ``ARCHIVE_ENTRIES`` entries, and
``ARCHIVE_SCAN_BYTES`` read of an archive, ``ARCHIVE_UNPACKED_BYTES`` once unpacked (a tar header
can claim any size, a gzip bomb any ratio); a download streams the stored object as is.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Mapping
from typing import Any, Protocol

from argoexec.controller.artgc import archive_location, node_template
from argoexec.models import Artifact, ArtifactLocation
from artifacts.driver import DriverContext, ObjectStream
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.locations import get_key, relocate
from artifacts.registry import driver_for

PREVIEW_BYTES = 64 * 1024
ARCHIVE_ENTRIES = 200
ARCHIVE_SCAN_BYTES = 64 * 1024 * 1024
ARCHIVE_UNPACKED_BYTES = 64 * 1024 * 1024


class DirectoryArtifactError(Exception):
    """The artifact is a directory: it has no one object to stream."""


class MissingArtifactError(Exception):
    """The node has no such artifact (the message says which it has)."""


def node_artifacts(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The artifacts a node produced, then those it took in (by name, outputs first)."""
    seen: dict[str, Mapping[str, Any]] = {}
    for side in ("outputs", "inputs"):
        for artifact in (node.get(side) or {}).get("artifacts") or []:
            if isinstance(artifact, Mapping) and artifact.get("name") not in seen:
                seen[str(artifact.get("name"))] = artifact
    return list(seen.values())


def locate(workflow: Mapping[str, Any], node: Mapping[str, Any], name: str) -> Artifact:
    """The artifact `name` of `node`, with its full location (Argo's ``Relocate`` onto the
    template's archive location or the workflow's repository)."""
    artifacts = node_artifacts(node)
    wire = next((a for a in artifacts if a.get("name") == name), None)
    if wire is None:
        have = ", ".join(str(a.get("name")) for a in artifacts) or "none"
        raise MissingArtifactError(
            f"node {node.get('displayName')!r} has no artifact {name!r} ({have})"
        )
    location = archive_location(workflow, node_template(workflow, node))
    archive = ArtifactLocation.model_validate(location) if location else None
    try:
        return relocate(Artifact.model_validate(dict(wire)), archive)
    except ValueError:
        raise MissingArtifactError(
            f"artifact {name!r} of node {node.get('displayName')!r} has no location"
        ) from None


def open_artifact(artifact: Artifact, ctx: DriverContext) -> ObjectStream:
    """The stored object; a directory (``archive: none``) is refused naming what to do."""
    try:
        return driver_for(artifact, ctx).open_stream(artifact)
    except ArtifactError as exc:
        if exc.code != ErrorCode.NOT_IMPLEMENTED:
            raise
        raise DirectoryArtifactError(
            f"artifact {artifact.name!r} is a directory (archive: none), not one file: its "
            "preview lists its files; `argoexec artifact get` downloads them"
        ) from None


def look_into(artifact: Artifact, ctx: DriverContext) -> dict[str, Any]:
    """The preview of an artifact: of its object, or the files of a directory artifact."""
    try:
        stream = open_artifact(artifact, ctx)
    except DirectoryArtifactError:
        prefix = _key(artifact).rstrip("/") + "/"
        keys = driver_for(artifact, ctx).list_objects(artifact)
        return listing([k.removeprefix(prefix) for k in keys])
    try:
        return preview(stream)
    finally:
        stream.close()


def _key(artifact: Artifact) -> str:
    """The artifact's key in its store ("" for a location without one: git, raw)."""
    try:
        return get_key(artifact)
    except ArtifactError:
        return ""


def file_name(artifact: Artifact) -> str:
    """The name a download is saved under: the last part of its key, else the artifact's."""
    base = _key(artifact).rstrip("/").rsplit("/", 1)[-1]
    return base or str(artifact.name) or "artifact"


class _Reader(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _Counted(io.RawIOBase):
    """`head`, then `rest`; refuses to be read past `limit` bytes (an archive scan is bounded)."""

    def __init__(self, head: bytes, rest: _Reader, limit: int) -> None:
        self.head, self.rest, self.left = head, rest, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self.head:
            n = min(len(view), len(self.head))
            view[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        if self.left <= 0:
            raise _ScanLimitError
        data = self.rest.read(min(len(view), self.left, 1 << 20))
        self.left -= len(data)
        view[: len(data)] = data
        return len(data)


class _ScanLimitError(Exception):
    pass


def _text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the preview's end is still text.
        if exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8", errors="strict")
        return None


def listing(names: list[str]) -> dict[str, Any]:
    """The preview of a directory artifact (``archive: none``): the keys under it."""
    entries = [{"name": n, "size": None, "type": "file"} for n in names[:ARCHIVE_ENTRIES]]
    return {"kind": "directory", "entries": entries, "truncated": len(names) > ARCHIVE_ENTRIES}


def preview(stream: ObjectStream) -> dict[str, Any]:
    """What the object holds: ``{"kind": "archive", "entries": [...], "text"?}`` for a tar
    (gzipped or not; the text of its only file when it is one small text file),
    ``{"kind": "text", "text": ...}`` or ``{"kind": "binary"}``; ``truncated`` when bounded."""
    head = stream.read(PREVIEW_BYTES)
    if head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar":
        listed = _archive(head, stream)
        if listed is not None:
            return listed
    text = _text(head)
    more = len(head) == PREVIEW_BYTES
    if text is None:
        return {"kind": "binary", "size": stream.size}
    return {"kind": "text", "text": text, "truncated": more, "size": stream.size}


def _unpacked(head: bytes, stream: ObjectStream) -> io.BufferedReader:
    """The archive's tar bytes, both sides bounded: at most ``ARCHIVE_SCAN_BYTES`` read from
    the store, at most ``ARCHIVE_UNPACKED_BYTES`` once gunzipped."""
    packed = io.BufferedReader(_Counted(head, stream, ARCHIVE_SCAN_BYTES), 1 << 16)
    source: _Reader = gzip.GzipFile(fileobj=packed) if head[:2] == b"\x1f\x8b" else packed
    return io.BufferedReader(_Counted(b"", source, ARCHIVE_UNPACKED_BYTES), 1 << 16)


def _archive(head: bytes, stream: ObjectStream) -> dict[str, Any] | None:
    entries: list[dict[str, Any]] = []
    first_text: str | None = None
    files = 0
    truncated = False
    try:
        with tarfile.open(fileobj=_unpacked(head, stream), mode="r|") as tar:
            for member in tar:
                if len(entries) >= ARCHIVE_ENTRIES:
                    truncated = True
                    break
                kind = "dir" if member.isdir() else "file" if member.isfile() else "other"
                entries.append({"name": member.name, "size": member.size, "type": kind})
                if member.isfile():
                    files += 1
                    if files == 1:
                        extracted = tar.extractfile(member)
                        data = extracted.read(PREVIEW_BYTES) if extracted else b""
                        first_text = _text(data)
    except _ScanLimitError:
        truncated = True
    except (tarfile.TarError, EOFError, OSError, zlib.error):
        if not entries:
            return None
        truncated = True
    found: dict[str, Any] = {"kind": "archive", "entries": entries, "truncated": truncated}
    if files == 1 and first_text is not None and not truncated:
        found["text"] = first_text
    return found
