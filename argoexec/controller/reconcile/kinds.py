"""One place per template kind: the handler that advances a node of that kind each pass."""

from __future__ import annotations

from .context import Handler, Kinds
from .dag import advance_dag
from .pod import advance_pod
from .retry import advance_retry
from .steps import advance_steps
from .suspend import advance_suspend
from .task import advance_task
from .walk import POD_KINDS, TASK_KINDS

HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(POD_KINDS, advance_pod),
    "steps": advance_steps,
    "dag": advance_dag,
    "suspend": advance_suspend,
    **dict.fromkeys(TASK_KINDS, advance_task),
}
KINDS = Kinds(HANDLERS, advance_retry)
