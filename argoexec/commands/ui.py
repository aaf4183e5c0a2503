"""``argoexec ui``: the local web view of a state directory's workflows (list, graph, nodes,
logs, artifacts, actions), served until interrupted.

On a loopback address (the default, 127.0.0.1) it asks for no token; on any other it prints a
one-time URL carrying a token made at start, and refuses every request without it
(``argoexec.view.web.security``).
"""

from __future__ import annotations

import argparse
import logging
from types import FrameType
from typing import Any

from argoexec.commands import Invocation, UsageError
from argoexec.commands.interrupts import handled_by
from argoexec.commands.statedir import state_store

log = logging.getLogger("argoexec.ui")


class _Late:
    """The WSGI application, given once the server knows its port (port 0: any free one)."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def _url(address: str, port: int, token: str | None) -> str:
    host = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return f"http://{host}:{port}/workflows" + (f"?token={token}" if token else "")


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

    store = state_store(args, inv)
    token = None if is_loopback(args.address) else new_token()
    late = _Late()
    try:
        server = make_server(args.address, args.port, late, threaded=True)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.address}:{args.port}: {exc.strerror or exc}"
        ) from None
    port = server.server_port
    late.app = create_app(
        StateDirRuns(store.root), Guard.listening_on(args.address, port, token), root=store.root
    )
    # Werkzeug logs every request; the view's own messages are enough.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    inv.stdout.write(
        f"argoexec ui: the workflows of {store.root} at {_url(args.address, port, token)}\n"
    )
    if token:
        inv.stdout.write("  (the token is needed from every address; keep the URL private)\n")
    inv.stdout.flush()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        with handled_by(interrupted):
            server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
