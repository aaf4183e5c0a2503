"""``argoexec ui``: the local web view of a state directory's workflows (list, graph, nodes,
logs, artifacts, actions), served until interrupted.

On a loopback address (the default, 127.0.0.1) it asks for no token. On any other it prints a
token made at start (for ``Authorization: Bearer``) and a one-time URL that signs a browser in
(a new one is printed each time one is used), and refuses every other request
(``argoexec.view.web.security``).
"""

from __future__ import annotations

import argparse
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from argoexec.commands import Invocation, UsageError
from argoexec.commands.interrupts import handled_by
from argoexec.commands.statedir import state_store

log = logging.getLogger("argoexec.ui")
_WILDCARDS = ("0.0.0.0", "::", "")


class _Late:
    """The WSGI application, given once the server knows its port (port 0: any free one)."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def _base_url(address: str, port: int) -> str:
    """Where a browser reaches the view: a wildcard address names this machine instead."""
    host = address
    if address in _WILDCARDS:  # this machine's name, unless it resolves to loopback only
        name = socket.getfqdn()
        host = socket.gethostname() if name.startswith("localhost") else name
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{port}"


def _announcer(out: TextIO, base: str) -> Callable[[str], None]:
    """What prints the next one-time URL when one has been used."""

    def announce(code: str) -> None:
        out.write(
            f"argoexec ui: a one-time URL for the next browser: {base}/workflows?login={code}\n"
        )
        out.flush()

    return announce


def _serve(server: Any) -> None:
    """Serve until SIGINT or SIGTERM."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        with handled_by(interrupted):
            server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def ui(args: argparse.Namespace, inv: Invocation) -> int:
    try:
        from werkzeug.serving import make_server

        from argoexec.view.web.app import create_app
        from argoexec.view.web.runs import StateDirRuns
        from argoexec.view.web.security import Guard, is_loopback, new_token
    except ImportError as exc:
        raise UsageError(
            f"argoexec ui needs {exc.name or 'Flask'}, which is not installed: "
            "pip install 'argoexec[ui]' (`make venv-run` installs it)"
        ) from None
    root: Path = state_store(args, inv).root
    token = None if is_loopback(args.address) else new_token()
    late = _Late()
    try:
        server = make_server(args.address, args.port, late, threaded=True)
    except (OSError, OverflowError) as exc:
        cause = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot listen on {args.address}:{args.port}: {cause}") from None
    base = _base_url(args.address, server.server_port)
    guard = Guard.listening_on(
        args.address, server.server_port, token, _announcer(inv.stdout, base)
    )
    late.app = create_app(StateDirRuns(root), guard, root=root, environ=inv.config.environ)
    # Werkzeug logs every request (and so any code in a URL); the view's own messages suffice.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    inv.stdout.write(f"argoexec ui: the workflows of {root} at {base}/workflows\n")
    if token:
        inv.stdout.write(
            f"argoexec ui: every request needs the token (Authorization: Bearer {token}),\n"
            f"  or a browser signed in once at {base}/workflows?login={guard.login}\n"
        )
    inv.stdout.flush()
    _serve(server)
    return 0
