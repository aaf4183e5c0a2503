"""Reading the template and the command line the emissary runs (argo-contract.md §2.2)."""

from __future__ import annotations

import os

from argoexec import contract as c
from argoexec.emissary import minijson
from argoexec.emissary.settings import EmissarySettings

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class EmissaryError(Exception):
    """The emissary itself failed: exit 64 with this message in the termination log."""


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def parse_json(text: str, what: str) -> Any:
    """``json.loads(text)``; a ``JSONDecodeError`` becomes ``EmissaryError("<what>: ...")``.
    Plain JSON is read without importing ``json`` (milliseconds at every start, see minijson);
    anything else is ``json``'s to read or refuse."""
    try:
        return minijson.loads(text)
    except minijson.UnsupportedError:
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise EmissaryError(f"{what}: {exc}") from exc


def read_template(settings: EmissarySettings) -> dict[str, Any]:
    path = settings.varrun.template
    if os.path.exists(path):
        text = _read_text(path)
    elif settings.template_env == c.OFFLOADED:
        text = _read_text(c.OFFLOADED_TEMPLATE_PATH)
    elif settings.template_env:
        text = settings.template_env
    else:
        raise EmissaryError(f"neither {path} nor {c.ENV_TEMPLATE} is available")
    template = parse_json(text, "failed to unmarshal template")
    if not isinstance(template, dict):
        raise EmissaryError("failed to unmarshal template: not a JSON object")
    return template


def capture_enabled(template: dict[str, Any], settings: EmissarySettings) -> bool:
    """stdout/combined files exist only when a result or archived logs need them (§2.4)."""
    archive_logs = (template.get("archiveLocation") or {}).get("archiveLogs")
    return settings.include_script_output or archive_logs is True


def command_line(argv: list[str], settings: EmissarySettings, tmp: str = "/tmp") -> list[str]:
    """The program and its arguments, with the offloaded args file appended; arguments longer
    than 128 KiB are written to ``/tmp/argo_arg_<i>.txt`` and passed as ``@file`` (§1.6)."""
    if not argv:
        raise EmissaryError("no command given after --")
    if not settings.args_file:
        return list(argv)
    what = f"failed to read args file {settings.args_file}"
    try:
        text = _read_text(settings.args_file)
    except OSError as exc:
        raise EmissaryError(f"{what}: {exc}") from exc
    extra = parse_json(text, what)
    if not isinstance(extra, list) or not all(isinstance(a, str) for a in extra):
        raise EmissaryError(f"args file {settings.args_file} is not a JSON array of strings")
    full = [*argv, *extra]
    for i, arg in enumerate(full):
        if len(arg.encode()) > c.MAX_ARG_LEN:
            target = f"{tmp}/argo_arg_{i}.txt"
            with open(target, "w", encoding="utf-8") as f:
                f.write(arg)
            os.chmod(target, 0o644)
            full[i] = f"@{target}"
    return full


def main_containers(template: dict[str, Any]) -> list[str]:
    """``["main"]``, or every containerSet member (an unnamed member is ``main``)."""
    members = (template.get("containerSet") or {}).get("containers") or []
    return [m.get("name") or c.MAIN_CONTAINER for m in members] or [c.MAIN_CONTAINER]


def sidecar_names(template: dict[str, Any]) -> set[str]:
    return {s.get("name", "") for s in template.get("sidecars") or []}


def volume_mount_paths(template: dict[str, Any]) -> list[str]:
    """Mount paths of the template's own volume mounts (outputs there are read via /mainctrfs)."""
    mounts: list[dict[str, Any]] = []
    for kind in ("container", "script"):
        mounts += (template.get(kind) or {}).get("volumeMounts") or []
    mounts += (template.get("containerSet") or {}).get("volumeMounts") or []
    return [m["mountPath"] for m in mounts if m.get("mountPath")]
