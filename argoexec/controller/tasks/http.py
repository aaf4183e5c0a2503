"""An `http` template's request, as Argo's agent makes it (workflow/executor/agent.go,
executeHTTPTemplate), and its outcome as a NodeResult (`TaskResult`).

- The request: `method` (GET by default), `url`, `headers` (a `value`, or `valueFrom.secretKeyRef`
  read through the given secret source; a `Host` header sets the request's host), the body from
  `body`, or `bodyFrom.bytes` (base64 on the wire, as Go marshals `[]byte`).
- `timeoutSeconds` bounds the whole exchange, redirects and body included (Argo's field
  documents 30 s as the default; we apply it when the field is absent, so no task hangs).
- `insecureSkipVerify` skips TLS verification; otherwise the system's CAs are used.
- Redirects are followed as Go's default client does: at most 10; 301/302/303 turn a request
  other than GET/HEAD into a GET without body; 307/308 repeat it; `Authorization`, `Cookie` and
  `WWW-Authenticate` are not sent on to another host than the first or its subdomains.
- Success: without `successCondition`, a 2xx status ("received non-2xx response code: N"
  otherwise); with it, the expr-lang condition over `request.{method,url,body,bodyBytes,
  headers}` and `response.{statusCode,body,headers}` (headers: name -> list of values, names
  canonical as Go's), "successCondition '...' evaluated false" when false.
- The result: `outputs.result` is the response body (also of a failed node, as Argo's).

Bounds of ours: the body is read up to `max_body_bytes` (a larger one fails the node: it would
become part of the Workflow's status); no proxy from the environment; `Accept-Encoding:
identity` (Go asks for gzip and decodes it; the body seen is the same).

Messages name the template, the method and the URL with its credentials and query values
redacted (`redact_url`), and every secret value read is redacted from them.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from argoexec.controller.expr import ExpressionError, evaluate_condition
from argoexec.models import SecretKeySelector
from artifacts.drivers.http_auth import redact_url
from artifacts.secrets import (
    REDACTED,
    SecretNotFoundError,
    SecretResolver,
    redact,
    register_basic_auth,
)

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_BODY_BYTES = 1 << 20
MAX_REDIRECTS = 10  # Go's default CheckRedirect
_SENSITIVE = frozenset({"authorization", "www-authenticate", "cookie", "cookie2"})
_CHUNK = 64 * 1024
# Go's httpguts rules: a header name is an RFC 7230 token; a value has no CR, LF or NUL (a
# value that smuggles a second header line is refused before anything is sent).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

SUCCEEDED, FAILED, ERROR = "Succeeded", "Failed", "Error"


@dataclass(frozen=True)
class TaskResult:
    """What the agent reports for a task (Argo's NodeResult)."""

    phase: str
    message: str = ""
    outputs: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"phase": self.phase}
        if self.message:
            wire["message"] = self.message
        if self.outputs is not None:
            wire["outputs"] = dict(self.outputs)
        return wire


class RequestError(Exception):
    """The request could not be made or answered (the node fails with this message)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    timeout: float
    insecure: bool
    body_text: str = ""
    secrets: list[str] = field(default_factory=list)  # values read from secrets


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, list[str]]
    body: bytes


def canonical_header(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: `content-type` -> `Content-Type`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def build_request(template: Mapping[str, Any], secrets: SecretResolver) -> HttpRequest:
    """The request of an `http` template (substituted). Raises RequestError."""
    spec = template.get("http") or {}
    url = str(spec.get("url") or "")
    if not url:
        raise RequestError("http.url is empty")
    _register_user_info(url)
    headers, read = _headers(spec, secrets)
    body_from = spec.get("bodyFrom") or {}
    if body_from.get("bytes") is not None:
        try:
            body = base64.b64decode(str(body_from["bytes"]), validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("http.bodyFrom.bytes is not base64") from None
        text = ""
    else:
        text = str(spec.get("body") or "")
        body = text.encode()
    return HttpRequest(
        method=str(spec.get("method") or "GET").upper(),
        url=url,
        headers=headers,
        body=body,
        body_text=text,
        timeout=_timeout(spec.get("timeoutSeconds")),
        insecure=bool(spec.get("insecureSkipVerify")),
        secrets=read,
    )


def _headers(
    spec: Mapping[str, Any], secrets: SecretResolver
) -> tuple[list[tuple[str, str]], list[str]]:
    """The headers as (name, value) pairs, and the values read from secrets."""
    headers: list[tuple[str, str]] = []
    read: list[str] = []
    for header in spec.get("headers") or []:
        name = str(header.get("name") or "")
        ref = (header.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            selector = SecretKeySelector.model_validate(ref)
            try:
                value = secrets.resolve(selector)
            except SecretNotFoundError as exc:
                raise RequestError(f"header {name!r}: {exc}") from None
            read.append(value)
        else:
            value = str(header.get("value") or "")
        _check_header(name, value)
        headers.append((name, value))
    return headers, read


def _check_header(name: str, value: str) -> None:
    """Go's wording (net/http); the value itself is never shown (it may be a secret)."""
    if not _TOKEN.fullmatch(name):
        raise RequestError(f"net/http: invalid header field name {name!r}")
    if _BAD_VALUE.search(value):
        raise RequestError(f"net/http: invalid header field value for {name!r}")


def _register_user_info(url: str) -> None:
    """A URL's password is a credential: `redact` hides it (and the basic auth made of it)
    from every message and log line from now on."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register_basic_auth(unquote(parts.username or ""), unquote(parts.password))
        register_basic_auth(parts.username or "", parts.password)


def _without_query_values(message: str, url: str) -> str:
    """`message` with the URL shown as `redact_url` shows it, and none of its query values
    (a successCondition's error may quote `request.url` or part of it)."""
    message = message.replace(url, redact_url(url))
    query = url.partition("?")[2].partition("#")[0]
    for pair in query.split("&"):
        raw = pair.partition("=")[2]
        for value in {raw, unquote(raw)}:
            if len(value) >= 4:  # shorter ones (1, true) would blank unrelated words
                message = message.replace(value, REDACTED)
    return message


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RequestError(f"http.timeoutSeconds {value!r} is not a number") from None


def _basic_auth(url: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Go's client sends a URL's user info as basic authentication unless the request has an
    Authorization header; per request, so a redirect elsewhere does not carry it on."""
    parts = urlsplit(url)
    if parts.username is None or any(n.lower() == "authorization" for n, _ in headers):
        return headers
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return [*headers, ("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())]


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # an invalid IPv6 address: the request says so when it is made
        return ""


def _same_site(first: str, then: str) -> bool:
    """Go's shouldCopyHeaderOnRedirect: the same host, or a subdomain of the first."""
    return then == first or then.endswith("." + first)


def _connection(url: str, req: HttpRequest, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError(f"unsupported protocol scheme {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", a port that is not a number
        raise RequestError(f"invalid URL: {exc}") from None
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    context = ssl.create_default_context()
    if req.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=context)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("context deadline exceeded")
    return left


def _read(resp: http.client.HTTPResponse, deadline: float, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        _remaining(deadline)
        chunk = resp.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the response body is larger than {limit} bytes, the most kept")
        chunks.append(chunk)


def _exchange(
    url: str, method: str, body: bytes, headers: list[tuple[str, str]], *, req: HttpRequest,
    deadline: float, limit: int,
) -> HttpResponse:  # fmt: skip
    conn = _connection(url, req, _remaining(deadline))
    try:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(method, target, skip_host=any(n.lower() == "host" for n, _ in headers),
                        skip_accept_encoding=False)  # fmt: skip
        for name, value in _basic_auth(url, headers):
            conn.putheader(name, value)
        if body or method not in ("GET", "HEAD"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        found: dict[str, list[str]] = {}
        for name, value in resp.getheaders():
            found.setdefault(canonical_header(name), []).append(value)
        data = b"" if method == "HEAD" else _read(resp, deadline, limit)
        return HttpResponse(resp.status, found, data)
    finally:
        conn.close()


def send(req: HttpRequest, *, max_body_bytes: int = MAX_BODY_BYTES) -> HttpResponse:
    """Make the request, following redirects; raises RequestError (Go's `Get "URL": cause`)."""
    deadline = time.monotonic() + req.timeout
    url, method, body, headers = req.url, req.method, req.body, list(req.headers)
    first = _hostname(url)
    for _ in range(MAX_REDIRECTS + 1):
        op = f'{method[:1]}{method[1:].lower()} "{redact_url(url)}"'
        try:
            resp = _exchange(
                url, method, body, headers, req=req, deadline=deadline, limit=max_body_bytes
            )
        except RequestError as exc:
            raise RequestError(f"{op}: {exc}") from None
        except TimeoutError:  # socket.timeout is TimeoutError
            raise RequestError(
                f"{op}: context deadline exceeded (timeoutSeconds {req.timeout:g})"
            ) from None
        except http.client.InvalidURL:  # its message repeats the path and query: not shown
            raise RequestError(f"{op}: the URL has spaces or control characters") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # ValueError: http.client's refusals of what it cannot send (an invalid IPv6
            # address, a method with control characters); never the request's own values.
            raise RequestError(f"{op}: {exc or type(exc).__name__}") from None
        location = (resp.headers.get("Location") or [""])[0]
        if resp.status not in (301, 302, 303, 307, 308) or not location:
            return resp
        url = urljoin(url, location)
        if resp.status in (301, 302, 303) and method not in ("GET", "HEAD"):
            method, body = "GET", b""
            headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
        if not _same_site(first, _hostname(url)):
            headers = [(n, v) for n, v in headers if n.lower() not in _SENSITIVE]
    raise RequestError(f'{req.method[:1]}{req.method[1:].lower()} "{redact_url(url)}": '
                       f"stopped after {MAX_REDIRECTS} redirects")  # fmt: skip


def evaluation_scope(req: HttpRequest, resp: HttpResponse) -> dict[str, Any]:
    """What `successCondition` sees (Argo's evalScope)."""
    request_headers: dict[str, list[str]] = {}
    for name, value in req.headers:
        request_headers.setdefault(canonical_header(name), []).append(value)
    return {
        "request": {
            "method": req.method,
            "url": req.url,
            "body": req.body_text,
            "bodyBytes": list(req.body),
            "headers": request_headers,
        },
        "response": {
            "statusCode": resp.status,
            "body": resp.body.decode("utf-8", errors="replace"),
            "headers": resp.headers,
        },
    }


def judge(template: Mapping[str, Any], req: HttpRequest, resp: HttpResponse) -> TaskResult:
    """The node's phase and message for a response, with the body as `outputs.result`."""
    outputs = {"result": resp.body.decode("utf-8", errors="replace")}
    condition = str((template.get("http") or {}).get("successCondition") or "")
    if not condition:
        if 200 <= resp.status < 300:
            return TaskResult(SUCCEEDED, "", outputs)
        return TaskResult(FAILED, f"received non-2xx response code: {resp.status}", outputs)
    try:
        ok = evaluate_condition(condition, evaluation_scope(req, resp))
    except ExpressionError as exc:
        return TaskResult(FAILED, f"successCondition: {exc}")
    if ok:
        return TaskResult(SUCCEEDED, "", outputs)
    return TaskResult(FAILED, f"successCondition '{condition}' evaluated false", outputs)


def run_http(
    template: Mapping[str, Any], *, secrets: SecretResolver, max_body_bytes: int = MAX_BODY_BYTES
) -> TaskResult:
    """The outcome of an `http` template's task; never raises for the request's failures."""
    name = template.get("name")
    try:
        req = build_request(template, secrets)
        resp = send(req, max_body_bytes=max_body_bytes)
    except RequestError as exc:
        return TaskResult(FAILED, redact(f"http template {name!r}: {exc}"))
    result = judge(template, req, resp)
    if result.message:
        message = redact(_without_query_values(result.message, req.url))
        result = TaskResult(result.phase, message, result.outputs)
    return result
