"""The thin controller's state directory: one directory per run, shared between the process
that drives the workflow (``argoexec run`` or ``argoexec controller``) and the commands that look
at it or change it (``list``, ``get``, ``logs``; ``stop``, ``resume``... change the Workflow).

Layout (all names fixed; ``STATE_DIR`` comes from ``config.controller_state_dir``)::

    STATE_DIR/<name>/created              creation time (ns since the epoch): orders ``runs()``
    STATE_DIR/<name>/workflow.json        the Argo-shaped Workflow, replaced atomically
    STATE_DIR/<name>/metrics.prom         custom metrics, Prometheus text format (atomically)
    STATE_DIR/<name>/owner                "<pid> <start ticks>" of the process that drives it
    STATE_DIR/<name>/run.json             the run's options (``loop.local.RunConfig``)
    STATE_DIR/<name>/controller.lock      flock held by the process that drives it
    STATE_DIR/<name>/pods/                the ``LocalPods`` root (pod dirs and logs)
    STATE_DIR/.wake/<pid>-<random>        FIFOs of processes waiting for changes (the
                                          controller loop's ``DirectoryStore``)

The controller loop reads and writes the Workflows through ``loop.state_store.DirectoryStore``,
which keeps ``metadata.resourceVersion`` in ``workflow.json`` and writes under ``exclusive``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from argoexec.controller.processes import same_process, start_ticks
from argoexec.errors import os_cause

# Kubernetes object names (DNS-1123 subdomain): also keeps a name a single path component.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_WORKFLOW = "workflow.json"
_METRICS = "metrics.prom"
_CREATED = "created"
_OWNER = "owner"
_LOCK_POLL_SECONDS = 0.005


class StateError(Exception):
    """A run that is not there, already there, or whose files cannot be read."""


class RunExistsError(StateError):
    """A run of that name exists already."""


def check_name(name: str) -> None:
    """A StateError unless ``name`` is a Kubernetes object name (and so one path component)."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise StateError(
            f"invalid workflow name {name!r}: use lowercase letters, digits, '-' and '.' "
            "(a Kubernetes object name)"
        )


def write_atomic(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` via a temporary dot-file in the same directory and a rename,
    so readers see the old content or the new, never a mix (nor a half-written file on a full
    disk: the temporary file is removed). Failures are StateErrors naming the file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StateError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


class RunDir:
    """One run's directory. Cheap to construct: nothing is read until asked for."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def __repr__(self) -> str:
        return f"RunDir({self.name!r}, {str(self.path)!r})"

    @property
    def pods_dir(self) -> Path:
        """The ``LocalRuntime`` root of this run."""
        return self.path / "pods"

    @property
    def created_ns(self) -> int:
        """When the run was created (ns since the epoch); the directory's mtime if the marker
        is missing or damaged."""
        try:
            return int((self.path / _CREATED).read_text().strip())
        except (OSError, ValueError):
            try:
                return self.path.stat().st_mtime_ns
            except OSError:
                return 0

    # --- The Workflow object ----------------------------------------------------------------

    @property
    def workflow_file(self) -> Path:
        """The run's Workflow (``workflow.json``), replaced atomically on every write."""
        return self.path / _WORKFLOW

    def workflow_token(self) -> str | None:
        """A token that changes whenever the Workflow is written, from ``stat`` alone (every
        write is a new file: inode, mtime and size); None for a run not listed yet or without
        a recorded Workflow."""
        try:
            if not (self.path / _CREATED).exists():
                return None
            st = os.stat(self.workflow_file)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"

    def write_workflow(self, workflow: dict[str, Any]) -> None:
        write_atomic(self.path / _WORKFLOW, json.dumps(workflow, indent=1, sort_keys=False))

    def has_state(self) -> bool:
        """Whether the run recorded its Workflow yet."""
        return (self.path / _WORKFLOW).exists()

    def read_workflow(self) -> dict[str, Any]:
        path = self.path / _WORKFLOW
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StateError(f"workflow {self.name!r} has no state yet ({path})") from None
        except (OSError, ValueError) as exc:
            raise StateError(
                f"cannot read the state of workflow {self.name!r} ({path}): {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise StateError(f"the state of workflow {self.name!r} is not an object ({path})")
        return data

    # --- Custom metrics (metrics.prometheus) -------------------------------------------------

    def write_metrics(self, text: str) -> None:
        write_atomic(self.path / _METRICS, text)

    def read_metrics(self) -> str:
        """The run's metrics in the Prometheus text format ("" if it emitted none)."""
        try:
            return (self.path / _METRICS).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise StateError(f"cannot read the metrics of workflow {self.name!r}: {exc}") from exc

    # --- The owner process ------------------------------------------------------------------

    def mark_owner(self, pid: int) -> None:
        """Record the process that runs this workflow (``argoexec run``)."""
        ticks = start_ticks(pid)
        write_atomic(self.path / _OWNER, f"{pid} {ticks}\n" if ticks else f"{pid}\n")

    def owner_pid(self) -> int | None:
        try:
            text = (self.path / _OWNER).read_text().split()
            return int(text[0]) if text else None
        except (OSError, ValueError):
            return None

    def owner_alive(self) -> bool:
        """Whether the recorded owner process still exists (the same process: a reused pid
        with another start time does not count)."""
        try:
            parts = (self.path / _OWNER).read_text().split()
            pid = int(parts[0])
        except (OSError, ValueError, IndexError):
            return False
        return same_process(pid, parts[1] if len(parts) > 1 else None)

    @contextlib.contextmanager
    def exclusive(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the run's lock (an advisory lock on its directory) for the block; a StateError
        if another process holds it (e.g. a concurrent ``argoexec stop`` finishing it) for
        longer than ``wait`` seconds (0: do not wait)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise StateError(f"workflow {self.name!r} is gone ({self.path})") from None
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StateError(
                            f"workflow {self.name!r} is being changed by another process; try again"
                        ) from None
                    time.sleep(_LOCK_POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # releases the lock


class StateStore:
    """The runs under one state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _known(self) -> str:
        names = [run.name for run in self.runs()]
        return ", ".join(names) if names else "none"

    def create(
        self,
        name: str,
        *,
        owner: int | None = None,
        workflow: dict[str, Any] | None = None,
        files: Mapping[str, str] | None = None,
        before_listed: Callable[[Path], None] | None = None,
    ) -> RunDir:
        """A new run directory, owned by process ``owner`` when given, holding ``workflow``
        and ``files`` (name: text) when given (written before the run is listed, so no reader
        sees the run without them); fails if a run of that name exists. ``before_listed`` is
        called with the directory just before the run is listed (to take its lock first). All
        or nothing: a directory that could not be completed (a full disk) is removed again."""
        check_name(name)
        path = self.root / name
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError:
            raise RunExistsError(
                f"a workflow named {name!r} already exists in {self.root}; "
                "choose another name (or use metadata.generateName)"
            ) from None
        except OSError as exc:
            raise StateError(f"cannot create the run directory: {os_cause(exc)}") from exc
        run = RunDir(name, path)
        try:
            if owner is not None:
                run.mark_owner(owner)  # before `created`: a listed run always has its owner
            if workflow is not None:
                run.write_workflow(workflow)  # likewise its Workflow
            for file, text in (files or {}).items():
                write_atomic(path / file, text)
            if before_listed is not None:
                before_listed(path)
            write_atomic(path / _CREATED, f"{time.time_ns()}\n")
            run.pods_dir.mkdir()
        except (OSError, StateError) as exc:
            shutil.rmtree(path, ignore_errors=True)
            cause = os_cause(exc) if isinstance(exc, OSError) else str(exc)
            raise StateError(f"cannot create the run directory {path}: {cause}") from exc
        return run

    def remove(self, run: RunDir) -> None:
        """Remove a run's directory entirely (a run that never recorded any state)."""
        shutil.rmtree(run.path, ignore_errors=True)

    def open(self, name: str) -> RunDir:
        """An existing run; the error lists the runs there are."""
        if _NAME.fullmatch(name) and ".." not in name and (self.root / name / _CREATED).exists():
            return RunDir(name, self.root / name)
        raise StateError(f"no workflow named {name!r} in {self.root} (known: {self._known()})")

    def runs(self) -> list[RunDir]:
        """Every run, newest first (by creation time; then by name)."""
        try:
            entries = [e for e in os.scandir(self.root) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return []
        found = [
            RunDir(e.name, Path(e.path)) for e in entries if os.path.exists(Path(e.path) / _CREATED)
        ]
        found.sort(key=lambda r: r.name)
        found.sort(key=lambda r: r.created_ns, reverse=True)
        return found
