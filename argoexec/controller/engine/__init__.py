"""The pure library the workflow engine is built on: no threads, no I/O, no state.

Variable scopes (`scope`), `{{...}}` substitution (`substitute`), loop expansion (`loops`), DAG
dependencies (`depends`) and a node's inputs and outputs (`io`). The engine itself is the
reconciler (`controller.reconcile`) driven by the controller loop (`controller.loop`); the
metrics and `argoexec lint` use the same pieces, so that they read a workflow as it runs.
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
