"""What ``wait`` reads back from the shared volume: the result and output parameters (§4.3-4.5.1).

Paths are decided as Argo does: a path inside one of the template's volume mounts, or at/below a
supplied input artifact's path, is read through the volume mirror (``/mainctrfs<path>``);
anything else is a "base image path" read from the emissary's copy under ``/var/run/argo``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argoexec.contract import MAINCTRFS, PARAMETERS_HINT, RESULT_MAX_BYTES
from argoexec.varrun import VarRun


@dataclass(frozen=True)
class CapturedResult:
    """``outputs.result``; ``truncated`` records that only the last 256 KiB were kept."""

    value: str
    truncated: bool
    original_bytes: int


def capture_result(stdout: Path) -> CapturedResult:
    """Main's stdout with one trailing newline removed, keeping at most the last 256 KiB.

    The cut is made on a UTF-8 character boundary so the result stays valid text.
    """
    data = stdout.read_bytes()
    if data.endswith(b"\n"):
        data = data[:-1]
    size = len(data)
    if size <= RESULT_MAX_BYTES:
        return CapturedResult(data.decode("utf-8", errors="replace"), False, size)
    tail = data[-RESULT_MAX_BYTES:]
    while tail and (tail[0] & 0xC0) == 0x80:  # drop continuation bytes of a split character
        tail = tail[1:]
    return CapturedResult(tail.decode("utf-8", errors="replace"), True, size)


def _within(path: str, root: str) -> bool:
    p, r = os.path.normpath(path), os.path.normpath(root)
    return p == r or p.startswith(r.rstrip("/") + "/")


def is_volume_path(path: str, mounts: list[str], supplied_inputs: list[str]) -> bool:
    """True when ``path`` must be read through ``/mainctrfs`` rather than the emissary copy
    (``mounts``: the template's volume mount paths)."""
    if any(_within(path, mount) for mount in mounts):
        return True
    return any(_within(path, art_path) for art_path in supplied_inputs)


@dataclass
class ParameterOutcome:
    parameters: list[dict[str, Any]]  # as reported: the declared parameters, values filled in
    error: str | None


def read_parameters(
    declared: list[dict[str, Any]],
    varrun: VarRun,
    *,
    mounts: list[str],
    supplied_inputs: list[str],
    mainctrfs: Path = Path(MAINCTRFS),
    max_bytes: int = 0,
) -> ParameterOutcome:
    """Fill ``value`` of every ``valueFrom.path`` parameter of ``declared`` (the template's
    output parameters in their JSON form; ``mounts``: its volume mount paths).

    A missing file takes ``valueFrom.default`` when one is set (an empty default counts);
    otherwise processing stops with an error, and the parameters read so far keep their values
    (Argo's behaviour: the remaining ones are reported as declared). So does a value that would
    take the parameters past ``max_bytes`` all together (0: no cap), which is never read whole.
    """
    out = [dict(p) for p in declared]
    budget = max_bytes
    for param in out:
        value_from = param.get("valueFrom") or {}
        source = value_from.get("path")
        if not source:
            continue
        name = param.get("name", "")
        if is_volume_path(source, mounts, supplied_inputs):
            location = Path(f"{mainctrfs}/{source.lstrip('/')}")
        else:
            location = varrun.output_parameter(source)
        try:
            data = _read_at_most(location, budget if max_bytes else None)
        except OSError as exc:
            default = value_from.get("default")
            if default is None:
                reason = exc.strerror or str(exc)
                return ParameterOutcome(
                    out, f"output parameter {name!r}: {source}: {reason.lower()}"
                )
            param["value"] = default
            continue
        if data is None:
            return ParameterOutcome(out, _too_large(name, source, max_bytes))
        budget -= len(data)
        # Go's string of the bytes, as JSON then writes it: invalid UTF-8 becomes U+FFFD.
        param["value"] = data.decode("utf-8", errors="replace")
    return ParameterOutcome(out, None)


def _read_at_most(path: Path, limit: int | None) -> bytes | None:
    """The file's bytes less one trailing newline (Argo trims it), or None when that is more
    than ``limit`` bytes; at most ``limit`` + 2 bytes are read."""
    with path.open("rb") as file:
        data = file.read() if limit is None else file.read(max(limit, 0) + 2)
    if data.endswith(b"\n"):
        data = data[:-1]
    if limit is not None and len(data) > limit:
        return None
    return data


def _too_large(name: str, source: str, max_bytes: int) -> str:
    return (
        f"output parameter {name!r}: {source}: the node's output parameters would hold more than "
        f"{max_bytes} bytes, the most a WorkflowTaskResult carries ({PARAMETERS_HINT})"
    )
