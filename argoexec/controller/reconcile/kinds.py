"""One place per template kind: the handler that advances a node of that kind each pass."""

from __future__ import annotations

from collections.abc import Callable

from .context import Pass
from .dag import advance_dag
from .pod import advance_pod
from .steps import advance_steps
from .suspend import advance_suspend
from .walk import POD_KINDS, Run, Visit

Handler = Callable[[Pass, Run], Visit]

HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(POD_KINDS, advance_pod),
    "steps": advance_steps,
    "dag": advance_dag,
    "suspend": advance_suspend,
}
