"""Reading the template an executor sub-command works on (argo-contract.md §1.5, §1.6)."""

from __future__ import annotations

from pydantic import ValidationError

from argoexec.errors import ExecutorError
from argoexec.models import Template


def parse_template(text: str) -> Template:
    try:
        return Template.model_validate_json(text)
    except ValidationError as exc:
        raise ExecutorError(f"invalid template: {exc}") from exc
