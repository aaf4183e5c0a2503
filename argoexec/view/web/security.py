"""Who may use the web view, and what a browser may do with its pages.

- On a loopback address no token is asked for, but the ``Host`` header must name the address
  the view listens on (a page of another site cannot reach it through DNS rebinding).
- On any other address every request carries the token printed at start
  (``Authorization: Bearer TOKEN``), or comes from a browser signed in through a one-time URL
  (``?login=CODE``; the code is used up, the browser gets a session cookie of its own, HttpOnly
  and SameSite=Strict, named for the port, and a new one-time URL is printed for the next one).
- Changes (POST) take JSON only and, when the browser says where it comes from (``Origin``),
  only from the view's own pages: a form of another site cannot post to it.
- Every answer forbids inline scripts, framing and content sniffing: a workflow's output shown
  by the pages can never run as script.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Request, Response, redirect
from werkzeug.wrappers import Response as BaseResponse

COOKIE = "argoexec_ui_token"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_LOOPBACK_NAMES = ("localhost",)


def is_loopback(address: str) -> bool:
    if address in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    """The checks every request passes. ``token`` None: a loopback address, no token."""

    def __init__(
        self,
        hosts: frozenset[str],
        token: str | None,
        port: int,
        announce: Callable[[str], None] = lambda code: None,
    ) -> None:
        self.hosts = hosts  # the Host headers accepted (loopback only)
        self.token = token
        # Cookies are not told apart by port: each view's has its own name.
        self.cookie = f"{COOKIE}_{port}"
        self.announce = announce  # told each new one-time login code
        self.login = new_token()  # the one-time code of the URL printed last
        self.sessions: set[str] = set()
        self.lock = threading.Lock()

    @classmethod
    def listening_on(
        cls,
        address: str,
        port: int,
        token: str | None,
        announce: Callable[[str], None] = lambda code: None,
    ) -> Guard:
        names = {address, *_LOOPBACK_NAMES, "127.0.0.1", "[::1]"} if is_loopback(address) else set()
        if ":" in address and not address.startswith("["):
            names.add(f"[{address}]")
        hosts = {f"{name}:{port}" for name in names}
        if port == 80:  # a browser leaves HTTP's default port out of Host
            hosts |= names
        return cls(frozenset(hosts), token, port, announce)

    def check(self, request: Request) -> BaseResponse | None:
        """None when the request may go on; else the answer refusing it."""
        if self.token is None and request.host not in self.hosts:
            return _refuse(403, f"this view answers on {', '.join(sorted(self.hosts))} only")
        if self.token is not None:
            refused = self._signed_in(request)
            if refused is not None:
                return refused
        if request.method not in ("GET", "HEAD"):
            return _changes_from_own_pages(request)
        return None

    def _signed_in(self, request: Request) -> BaseResponse | None:
        assert self.token is not None
        code = request.args.get("login")
        if code is not None and request.method == "GET":
            return self._log_in(request, code)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and _same(header[7:], self.token):
            return None
        session = request.cookies.get(self.cookie)
        with self.lock:
            if session is not None and session in self.sessions:
                return None
        return _refuse(
            401,
            "this view needs its token: open the one-time URL `argoexec ui` printed last, or "
            "send `Authorization: Bearer TOKEN` (the token it printed at start)",
        )

    def _log_in(self, request: Request, code: str) -> BaseResponse:
        """The one-time URL: its code is used up, the browser gets a session of its own, and a
        new one-time URL is printed for the next browser."""
        with self.lock:
            if not _same(code, self.login):
                return _refuse(401, "this one-time URL was used already: open the newest one")
            self.login = new_token()
            session = new_token()
            self.sessions.add(session)
            fresh = self.login
        self.announce(fresh)
        rest = {k: v for k, v in request.args.items() if k != "login"}
        answer = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), code=303)
        answer.set_cookie(self.cookie, session, httponly=True, samesite="Strict", path="/")
        return answer


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _changes_from_own_pages(request: Request) -> Response | None:
    if request.mimetype != "application/json":
        return _refuse(415, "changes are sent as JSON (Content-Type: application/json)")
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        return _refuse(403, f"changes come from this view's own pages, not from {origin[:100]}")
    return None


def _refuse(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def harden(answer: Response) -> Response:
    """The headers every answer carries."""
    answer.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["X-Frame-Options"] = "DENY"
    answer.headers["Referrer-Policy"] = "no-referrer"
    answer.headers.setdefault("Cache-Control", "no-store")
    return answer
