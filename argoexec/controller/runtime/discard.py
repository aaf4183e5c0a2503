"""Directories removed in the background.

A pod's container layers (each container's writable root, thousands of entries for one that
installed packages) are removed when the pod is cleaned up; doing that on the thread that then
finishes the node would delay every dependent pod. `Discard.drop` moves the directory aside at
once (a rename, so the pod's directory is clean and a pod of the same name can start) and a
worker thread deletes it; `close` waits until everything dropped is gone.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from pathlib import Path


class Discard:
    def __init__(self, trash: Path, remove: Callable[[Path], None]) -> None:
        self.trash = trash  # on the same file system as what is dropped: a rename moves it
        self._remove = remove
        self._queue: queue.Queue[Path | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._count = itertools.count()

    def drop(self, path: Path) -> None:
        """Remove ``path`` (a directory), soon; it is gone from its place when this returns."""
        if not path.exists():
            return
        self.trash.mkdir(parents=True, exist_ok=True)
        target = self.trash / f"{next(self._count)}-{path.parent.name}-{path.name}"
        path.rename(target)
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="discard", daemon=True)
                self._worker.start()
        self._queue.put(target)

    def close(self) -> None:
        """Wait until everything dropped so far is removed, then the trash itself."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join()
        if self.trash.is_dir():
            self._remove(self.trash)

    def _work(self) -> None:
        while (path := self._queue.get()) is not None:
            self._remove(path)
