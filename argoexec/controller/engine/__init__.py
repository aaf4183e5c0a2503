"""The thin controller's workflow engine.

Pure parts: variable scopes (`scope`), `{{...}}` substitution (`substitute`), loop expansion
(`loops`) and DAG dependencies (`depends`). The scheduler runs a Workflow on any `Runtime`:
`runner` (arguments, entrypoint, exit handler, the Workflow object), `execute` (one node:
template resolution, inputs, kinds), `retry`, `steps`, `dag`, `children` (what steps and tasks
share), `io` (inputs/outputs), `pods` (building, running and judging a pod), `slots` (where a
pod waits for the workflow's `parallelism` and the machine's cap), `nodes` (the node tree in
Argo's shape), `context` (the run's shared state and each node's frame) and `guard` (an
unexpected exception becomes its node's Error).
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
