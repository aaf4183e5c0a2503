"""The level-triggered reconciler: `reconcile(workflow, observed, now, settings)` reads the
Workflow (its status is the only state) and what is observed of its pods, and returns the
Workflow with its new status and the actions to take. No I/O of its own, no threads, no
sleeps: the memoization caches and the synchronization locks, shared beyond one Workflow,
reach it through seams the loop hands it (`Observed.caches`, `Settings.locks`)."""

from .actions import Action, CreatePod, DeletePod, RunTask, SaveCacheEntry, SignalContainer
from .context import Event, Settings
from .workflow import Outcome, reconcile

__all__ = [
    "Action",
    "CreatePod",
    "DeletePod",
    "Event",
    "Outcome",
    "RunTask",
    "SaveCacheEntry",
    "Settings",
    "SignalContainer",
    "reconcile",
]
