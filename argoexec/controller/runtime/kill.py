"""The command Argo's controller execs in a running container to signal it (argo-controller.md
§4.9, Argo's ``workflow/signal``): PID 1 of the container is the emissary or the executor, which
forward the signal or stop. Runtimes exec it (the `local` one recognises it unsandboxed, where
there is no PID namespace: `local._pid1_kill`). Standard library only: pod supervisors import
it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from argoexec.contract import VAR_RUN_ARGO

KILL_COMMAND_ANNOTATION = "workflows.argoproj.io/kill-cmd-"  # + container name: a JSON array
AUX_CONTAINERS = ("wait", "supervisor")
ARGO_BIN = "/argo-bin"  # the init-less layout's executor volume


def kill_command(pod: Mapping[str, Any], container: str, signum: int) -> list[str]:
    """`argoexec kill N 1` in the executor's containers, the emissary's copy in user containers
    (`/var/run/argo/argoexec`, or `/argo-bin/bin/argoexec` init-less), else `sh -c "kill -N 1"`;
    the pod's `kill-cmd-<container>` annotation (`%d` standing for the signal) wins."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    override = _override(annotations.get(KILL_COMMAND_ANNOTATION + container))
    if override:
        return [word.replace("%d", str(signum)) for word in override]
    if container in AUX_CONTAINERS:
        return ["argoexec", "kill", str(signum), "1"]
    spec = (pod.get("spec") or {}).get("containers") or []
    found: Mapping[str, Any] = next((c for c in spec if c.get("name") == container), {})
    mounts = {str(m.get("mountPath") or "").rstrip("/") for m in found.get("volumeMounts") or []}
    if VAR_RUN_ARGO in mounts:
        return [f"{VAR_RUN_ARGO}/argoexec", "kill", str(signum), "1"]
    if ARGO_BIN in mounts:
        return [f"{ARGO_BIN}/bin/argoexec", "kill", str(signum), "1"]
    return ["/bin/sh", "-c", f"kill -{signum} 1"]


def _override(text: object) -> list[str] | None:
    if not isinstance(text, str):
        return None
    try:
        words = json.loads(text)
    except json.JSONDecodeError:
        return None  # not a command: the default one is used
    if isinstance(words, list) and words and all(isinstance(w, str) for w in words):
        return words
    return None
