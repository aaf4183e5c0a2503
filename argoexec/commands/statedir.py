"""The state directory of ``run``/``list``/``get``/``logs``/``resume``/``stop``, checked once.

A ``--state-dir`` (or ``ARGOEXEC_STATE_DIR``) that is a file, lies below a file, or cannot be
read or written is a usage error naming the option and the cause, before any command uses it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Literal

from argoexec.commands import Invocation, UsageError
from argoexec.config import controller_state_dir, state_dir_from_env
from argoexec.contract import ENV_STATE_DIR
from argoexec.controller.state import StateStore

Mode = Literal["read", "write", "create"]


def state_store(args: argparse.Namespace, inv: Invocation, *, mode: Mode = "read") -> StateStore:
    """The runs under ``--state-dir``, else under the configured state directory, checked for
    ``mode``: ``read``; ``write`` (files are written into existing runs: probed); ``create``
    (a run is created: the directory too, if missing)."""
    given = getattr(args, "state_dir", None)
    root = Path(given or controller_state_dir(inv.config.environ)).absolute()
    if given:
        where = f"--state-dir {given}"
    elif state_dir_from_env(inv.config.environ):
        where = f"{ENV_STATE_DIR}={root}"
    else:
        where = f"the state directory {root}"
    _check(root, where, mode)
    return StateStore(root)


def _check(root: Path, where: str, mode: Mode) -> None:
    if not root.exists():
        for parent in root.parents:  # the first one that exists must be a directory
            if parent.exists():
                if not parent.is_dir():
                    raise UsageError(f"{where}: {parent} is not a directory")
                break
        if mode != "create":
            return  # nothing there yet: no runs
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{where}: cannot create it: {_cause(exc, root)}") from None
    if not root.is_dir():
        raise UsageError(f"{where}: not a directory")
    if not os.access(root, os.R_OK | os.X_OK):
        raise UsageError(f"{where}: cannot be read (permission denied)")
    if mode != "read":
        try:
            fd, probe = tempfile.mkstemp(dir=root, prefix=".probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise UsageError(f"{where}: cannot write to it: {_cause(exc, root)}") from None


def _cause(exc: OSError, root: Path) -> str:
    cause = exc.strerror or str(exc)
    path = Path(str(exc.filename)) if exc.filename else root
    if path != root and not path.is_relative_to(root):  # a parent's failure: name it
        cause = f"{path}: {cause}"
    return cause
