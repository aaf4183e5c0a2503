"""`spec.workflowMetadata` applied to the Workflow when it starts (Argo's
`updateWorkflowMetadata`): its `labels` and `annotations`, then `labelsFrom` (each label's value
an expr-lang `expression` over the workflow's globals, which must give a string). A label value
Kubernetes would refuse, or an expression that fails, errors the workflow with Argo's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.scope import Scope
from argoexec.controller.expr import ExpressionError, evaluate_expr
from argoexec.controller.expr.values import go_type

# Kubernetes' IsValidLabelValue.
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_VALUE_HELP = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


# A refused value is quoted up to this many characters: the message becomes the Workflow's
# status.message (an expression can make a value of any length).
_QUOTED_MAX = 100


class MetadataError(ValueError):
    pass


def _quoted(value: str) -> str:
    if len(value) <= _QUOTED_MAX:
        return repr(value)
    return f"{value[:_QUOTED_MAX]!r}... ({len(value)} characters)"


def label_value_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(_LABEL_VALUE_HELP)
    return errors


def apply_static_metadata(workflow: dict[str, Any], spec: Mapping[str, Any]) -> None:
    """`workflowMetadata.labels` and `.annotations` onto the Workflow's metadata."""
    md = spec.get("workflowMetadata") or {}
    meta = workflow.setdefault("metadata", {})
    for name, value in (md.get("labels") or {}).items():
        errors = label_value_errors(str(value))
        if errors:
            raise MetadataError(
                f"invalid label value {_quoted(str(value))} for label {name!r}: {';'.join(errors)}"
            )
        meta.setdefault("labels", {})[str(name)] = str(value)
    for name, value in (md.get("annotations") or {}).items():
        meta.setdefault("annotations", {})[str(name)] = str(value)


def apply_labels_from(workflow: dict[str, Any], spec: Mapping[str, Any], globals_: Scope) -> bool:
    """`workflowMetadata.labelsFrom`, evaluated with the globals; True if any was set."""
    labels_from = (spec.get("workflowMetadata") or {}).get("labelsFrom") or {}
    env = globals_.as_expr_env() if labels_from else {}
    for name, source in labels_from.items():
        expression = str((source or {}).get("expression") or "")
        try:
            value = evaluate_expr(expression, env)
        except ExpressionError as exc:
            raise MetadataError(
                f"failed to evaluate label {name!r} expression {expression!r}: {exc}"
            ) from None
        if not isinstance(value, str):
            raise MetadataError(
                f"failed to evaluate label {name!r} expression {expression!r} evaluted to "
                f"{go_type(value)} but must be a string"
            )
        errors = label_value_errors(value)
        if errors:
            raise MetadataError(
                f"invalid label value {_quoted(value)} for label {name!r} and expression "
                f"{expression!r}: {';'.join(errors)}"
            )
        workflow.setdefault("metadata", {}).setdefault("labels", {})[str(name)] = value
    return bool(labels_from)
