"""Who may use the web view, and what a browser may do with its pages.

- On a loopback address no token is asked for, but the ``Host`` header must name the address
  the view listens on (a page of another site cannot reach it through DNS rebinding).
- On any other address every request carries the token printed at start: as
  ``Authorization: Bearer TOKEN``, or once in the URL (``?token=``), which sets an HttpOnly,
  SameSite=Strict cookie and redirects to the same page without it.
- Changes (POST) take JSON only and, when the browser says where it comes from (``Origin``),
  only from the view's own pages: a form of another site cannot post to it.
- Every answer forbids inline scripts, framing and content sniffing: a workflow's output shown
  by the pages can never run as script.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Guard:
    """The checks every request passes (``token`` None: a loopback address, no token)."""

    hosts: frozenset[str]  # the Host headers accepted (loopback only)
    token: str | None

    @classmethod
    def listening_on(cls, address: str, port: int, token: str | None) -> Guard:
        names = {address, *_LOOPBACK_NAMES, "127.0.0.1", "[::1]"} if is_loopback(address) else set()
        if ":" in address and not address.startswith("["):
            names.add(f"[{address}]")
        hosts = {f"{name}:{port}" for name in names}
        if port == 80:  # a browser leaves HTTP's default port out of Host
            hosts |= names
        return cls(frozenset(hosts), token)

    def check(self, request: Request) -> BaseResponse | None:
        """None when the request may go on; else the answer refusing it."""
        if self.token is None and request.host not in self.hosts:
            return _refuse(403, f"this view answers on {', '.join(sorted(self.hosts))} only")
        if self.token is not None:
            refused = self._token(request)
            if refused is not None:
                return refused
        if request.method not in ("GET", "HEAD"):
            return _changes_from_own_pages(request)
        return None

    def _token(self, request: Request) -> BaseResponse | None:
        assert self.token is not None
        given = request.args.get("token")
        if given is not None and request.method == "GET":
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _refuse(401, "the token in the URL is not this view's")
            rest = {k: v for k, v in request.args.items() if k != "token"}
            target = request.path + (f"?{urlencode(rest)}" if rest else "")
            answer = redirect(target, code=303)
            answer.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            return answer
        header = request.headers.get("Authorization", "")
        bearer = header[7:] if header.startswith("Bearer ") else None
        for candidate in (bearer, request.cookies.get(COOKIE)):
            if candidate is not None and hmac.compare_digest(
                candidate.encode(), self.token.encode()
            ):
                return None
        return _refuse(
            401,
            "this view needs its token (printed when `argoexec ui` started): open the URL it "
            "printed, or send `Authorization: Bearer TOKEN`",
        )


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
