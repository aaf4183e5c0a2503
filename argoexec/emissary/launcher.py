"""The script installed at ``/var/run/argo/argoexec`` where the emissary runs with a Python of
the container's (the local runtime, an executor image with Python): ``argoexec emissary ...``
goes straight to the emissary, anything else (``argoexec kill SIGNAL PID``) through the
stdlib-only dispatcher; both need only the standard library and argoexec's sources.

The interpreter starts without ``site`` (-S) and with ``-c``: processing site-packages (.pth
files, the editable-install finder) and runpy would cost more than the rest of the emissary's
start, and it is PID 1 of every user container.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

_EMISSARY = "from argoexec.emissary.main import run_and_exit; run_and_exit()"
_DISPATCH = "from argoexec.emissary.frozen import main; sys.exit(main())"


def python_code(path: Sequence[str], entry: str) -> str:
    """``-c`` code that puts ``path`` first on the import path, then runs ``entry``."""
    return f"import sys; sys.path[:0] = {list(path)!r}; {entry}"


def launcher_script(python: Sequence[str], sources: str) -> str:
    """The launcher for the interpreter started by ``python`` (a command line) and the directory
    ``sources`` holding the ``argoexec`` package."""
    command = shlex.join(python)
    emissary = shlex.quote(python_code([sources], _EMISSARY))
    dispatch = shlex.quote(python_code([sources], _DISPATCH))
    return (
        "#!/bin/sh\n"
        f'if [ "$1" = emissary ]; then shift; exec {command} -S -c {emissary} "$@"; fi\n'
        f'exec {command} -S -c {dispatch} "$@"\n'
    )
