"""The emissary's own reading of its environment (the one exception to "env only in config")."""

from __future__ import annotations

import os

from argoexec import contract as c
from argoexec.durations import parse_deadline
from argoexec.emissary.paths import Layout

# ``typing``, ``dataclasses``, ``collections.abc`` and ``datetime`` are left out of the
# emissary's import graph: each adds milliseconds to the start of every container (mypy treats
# this name as always true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def parse_grace(value: str | None) -> float:
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        seconds = 0.0
    return seconds if seconds > 0 else c.DEFAULT_GRACE_SECONDS


class EmissarySettings:
    """What the emissary reads from its environment (keyword-only, like the dataclass it was)."""

    def __init__(
        self,
        *,
        container: str,
        varrun: Layout,
        termination_log: str,
        include_script_output: bool,
        template_env: str | None,
        args_file: str | None,
        pause_before: bool,
        pause_after: bool,
        grace_seconds: float,
        deadline: datetime | None,
    ) -> None:
        self.container = container
        self.varrun = varrun
        self.termination_log = termination_log
        self.include_script_output = include_script_output
        self.template_env = template_env
        self.args_file = args_file
        self.pause_before = pause_before
        self.pause_after = pause_after
        self.grace_seconds = grace_seconds
        self.deadline = deadline

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> EmissarySettings:
        env = os.environ if env is None else env
        return cls(
            container=env.get(c.ENV_CONTAINER_NAME) or c.MAIN_CONTAINER,
            varrun=Layout(env.get(c.ENV_VAR_RUN_DIR) or c.VAR_RUN_ARGO),
            termination_log=env.get(c.ENV_TERMINATION_LOG) or c.TERMINATION_LOG,
            include_script_output=_true(env.get(c.ENV_INCLUDE_SCRIPT_OUTPUT)),
            template_env=env.get(c.ENV_TEMPLATE),
            args_file=env.get(c.ENV_CONTAINER_ARGS_FILE) or None,
            pause_before=_true(env.get(c.ENV_DEBUG_PAUSE_BEFORE)),
            pause_after=_true(env.get(c.ENV_DEBUG_PAUSE_AFTER)),
            grace_seconds=parse_grace(env.get(c.ENV_TERMINATION_GRACE_PERIOD_SECONDS)),
            deadline=parse_deadline(env.get(c.ENV_DEADLINE)),
        )
