"""Small tmpfs mounts for tests of full and read-only file systems (root only)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.servers.procs import require


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str = "1m", read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (created) for the block; unmounted after it.
    Needs root (skipped with a reason on a laptop, failed under CI=true)."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    require(shutil.which("mount") is not None, "mount is not installed")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        # Lazy: a process that still has a file open there must not keep the mount busy.
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30, check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the file system of ``directory`` until at most ``leave`` bytes are free."""
    filler = directory / ".filler"
    with filler.open("wb", buffering=0) as out:
        while True:
            free = shutil.disk_usage(directory).free
            if free <= leave:
                break
            try:
                out.write(b"\0" * min(free - leave, 1 << 20))
                out.flush()
            except OSError:
                break
    return filler
