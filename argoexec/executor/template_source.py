"""Reading the template an executor sub-command works on (argo-contract.md §1.5, §1.6)."""

from __future__ import annotations

from pydantic import ValidationError

from argoexec.contract import OFFLOADED
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.models import Template


def read_template_text(env_template: str | None, paths: PodPaths) -> str:
    """``ARGO_TEMPLATE`` (resolving the offload sentinel), else ``/var/run/argo/template``."""
    try:
        if env_template == OFFLOADED:
            return paths.offloaded_template.read_text(encoding="utf-8")
        if env_template:
            return env_template
        return paths.varrun.template.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExecutorError(f"failed to read the template: {exc}") from exc


def parse_template(text: str) -> Template:
    try:
        return Template.model_validate_json(text)
    except ValidationError as exc:
        raise ExecutorError(f"invalid template: {exc}") from exc
