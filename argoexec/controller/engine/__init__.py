"""The thin controller's pure engine logic: variable scopes, `{{...}}` substitution and loop
expansion. No I/O; the workflow driver composes these with the pod builder and a runtime.
"""

from __future__ import annotations

from .loops import LoopError, LoopItem, expand_loop, expand_sequence, expand_step, should_expand
from .scope import Scope, exit_handler_entries, workflow_scope
from .substitute import (
    ArgumentError,
    SubstitutionError,
    evaluate_when,
    resolve_arguments,
    substitute,
)

__all__ = [
    "ArgumentError",
    "LoopError",
    "LoopItem",
    "Scope",
    "SubstitutionError",
    "evaluate_when",
    "exit_handler_entries",
    "expand_loop",
    "expand_sequence",
    "expand_step",
    "resolve_arguments",
    "should_expand",
    "substitute",
    "workflow_scope",
]
