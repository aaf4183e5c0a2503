"""A fault-injecting HTTP/1.1 proxy on loopback, for retry and integrity tests.

The proxy sits between a client (our drivers) and one loopback upstream server (moto, the HTTP
test server, fake-gcs-server). Faults are rules set per test and changeable while it runs:

* ``Fault.reset(...)``: after N bytes of a request or response body have passed, close the
  client connection with ``SO_LINGER 0`` so the peer sees a TCP RST (the upstream connection is
  reset too, so the server never takes a truncated body for a complete one);
* ``Fault.slow_down(...)``: answer a request with S3's ``503 SlowDown`` error without forwarding;
* ``Fault.stall(...)``: stop forwarding for S seconds after N bytes;
* ``Fault.throttle(...)``: forward a body at no more than B bytes a second.

Keep-alive is kept, not disabled: real SDKs pool connections, and a retry after a reset often
goes out on another pooled connection, so forcing ``Connection: close`` would test a friendlier
world than production. The proxy therefore parses just enough HTTP/1.1 to find message
boundaries (request line, headers, ``Content-Length`` or chunked bodies, HEAD/1xx/204/304, and
close-delimited responses) and counts *requests*, not connections. A request's
``Expect: 100-continue`` is answered by the proxy itself and not forwarded, which keeps the relay
strictly sequential per connection (botocore leaves ``Expect`` out of its SigV4 signature).

Byte offsets count what follows the head on the wire (chunk framing included). A fault fires
only at a point where bytes remain, except a request fault at offset 0, which fires as soon as
the request head has arrived (so it also hits bodiless requests such as GET). Firing is counted
per rule under a lock: ``skip`` opportunities pass first, then the rule fires ``times`` times
(``None``: every time); a throttle counts once per message. Everything is bounded: concurrent
connections, idle time per socket, stall length and the proxy's lifetime (after which it refuses
connections). ``journal`` records request lines, responses, fired faults and abnormal closes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

import pytest

Kind = Literal["reset", "slowdown", "stall", "throttle"]
Direction = Literal["request", "response"]

SLOW_DOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message>"
    b"<RequestId>fault-proxy</RequestId></Error>"
)
_MAX_HEAD = 64 * 1024
_POLL = 0.2
_MAX_STALL = 30.0


class Match(TypedDict, total=False):
    """Which requests a rule applies to, and how often it fires."""

    times: int | None  # fire this many times (None: every time); default 1, throttle None
    skip: int  # let this many opportunities pass first
    method: str | None
    path_contains: str | None  # substring of the request target (path and query)


@dataclass
class Fault:
    """One rule. ``method``/``path_contains`` restrict which requests it applies to."""

    kind: Kind
    direction: Direction = "response"
    after_bytes: int = 0
    times: int | None = 1
    skip: int = 0
    seconds: float = 0.0
    rate: int = 0
    method: str | None = None
    path_contains: str | None = None
    fired: int = 0
    seen: int = 0

    @classmethod
    def reset(cls, direction: Direction, after_bytes: int, **match: Unpack[Match]) -> Fault:
        return cls("reset", direction, after_bytes, **match)

    @classmethod
    def slow_down(cls, **match: Unpack[Match]) -> Fault:
        return cls("slowdown", "request", 0, **match)

    @classmethod
    def stall(
        cls, direction: Direction, after_bytes: int, seconds: float, **match: Unpack[Match]
    ) -> Fault:
        return cls("stall", direction, after_bytes, seconds=min(seconds, _MAX_STALL), **match)

    @classmethod
    def throttle(cls, direction: Direction, rate: int, **match: Unpack[Match]) -> Fault:
        match.setdefault("times", None)
        return cls("throttle", direction, 0, rate=rate, **match)

    def matches(self, direction: Direction, method: str, target: str) -> bool:
        return (
            self.direction == direction
            and (self.method is None or self.method == method)
            and (self.path_contains is None or self.path_contains in target)
        )

    def describe(self) -> str:
        what = {"stall": f" for {self.seconds:g}s", "throttle": f" at {self.rate} B/s"}
        return f"{self.kind} {self.direction} after {self.after_bytes} B{what.get(self.kind, '')}"


@dataclass(frozen=True)
class Event:
    conn: int
    kind: str  # "request", "response", "fault", "refused", "closed" (with the reason)
    detail: str


class _ResetError(Exception):
    """A reset fault fired: tear both connections down with RST."""


class _ClosedError(Exception):
    """A peer closed, went idle for too long, or the proxy is stopping."""


@dataclass
class _Head:
    first: list[str]  # request: method, target, version; response: version, status, reason
    headers: dict[str, str]
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes) -> _Head:
        lines = raw.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return cls(lines[0].split(" ", 2), headers, raw)

    def closes(self) -> bool:
        return "close" in self.headers.get("connection", "").lower()


@dataclass
class _Message:
    """Fault state of one message being relayed in one direction."""

    proxy: FaultProxy
    conn: int
    direction: Direction
    label: str
    rules: list[Fault]
    passed: int = 0

    def __post_init__(self) -> None:
        # A throttle applies to a whole message: it is counted (and journaled) once, up front.
        for rule in [r for r in self.rules if r.kind == "throttle"]:
            if not self.proxy.fire(rule, self.conn, self.label):
                self.rules.remove(rule)

    def send(self, sock: socket.socket, data: bytes) -> None:
        """Forward ``data``, firing offset rules at their offsets and throttling if asked."""
        while data:
            due = [f for f in self.rules if f.kind in ("reset", "stall")]
            nxt = min((f.after_bytes for f in due if f.after_bytes >= self.passed), default=None)
            if nxt is None or nxt >= self.passed + len(data):
                self._forward(sock, data)
                return
            head, data = data[: nxt - self.passed], data[nxt - self.passed :]
            self._forward(sock, head)
            for rule in [f for f in due if f.after_bytes == nxt]:
                self.rules.remove(rule)
                self.proxy.fire(rule, self.conn, self.label)

    def _forward(self, sock: socket.socket, data: bytes) -> None:
        rate = next((f.rate for f in self.rules if f.kind == "throttle"), 0)
        step = max(1, rate // 10 if rate else len(data))
        for i in range(0, len(data), step):
            piece = data[i : i + step]
            try:
                sock.sendall(piece)
            except OSError as exc:
                raise _ClosedError(str(exc)) from exc
            self.passed += len(piece)
            if rate and self.proxy.stopping.wait(len(piece) / rate):
                raise _ClosedError("proxy stopping")


class _Reader:
    """Buffered reads from one socket that give up on EOF, idle timeout or proxy stop."""

    def __init__(self, sock: socket.socket, proxy: FaultProxy) -> None:
        self.sock, self.proxy, self.buf = sock, proxy, bytearray()

    def fill(self, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (self.proxy.idle_timeout if timeout is None else timeout)
        while not self.proxy.stopping.is_set():
            try:
                if _readable(self.sock, _POLL):
                    chunk = self.sock.recv(256 * 1024)
                    self.buf += chunk
                    return bool(chunk)
            except (OSError, ValueError):
                return False
            if time.monotonic() > deadline:
                return False
        return False

    def head(self) -> bytes | None:
        """The next message head, or None on a clean EOF before any byte of it."""
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if len(self.buf) > _MAX_HEAD:
                raise _ClosedError("message head too large")
            if not self.fill():
                if self.buf:
                    raise _ClosedError("connection closed inside a message head")
                return None
        raw = bytes(self.buf[: end + 4])
        del self.buf[: end + 4]
        return raw

    def some(self, limit: int) -> bytes:
        if not self.buf and not self.fill():
            raise _ClosedError("connection closed inside a body")
        data = bytes(self.buf[:limit])
        del self.buf[:limit]
        return data

    def line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if len(self.buf) > _MAX_HEAD or not self.fill():
                raise _ClosedError("bad chunked framing")
        data = bytes(self.buf[: end + 2])
        del self.buf[: end + 2]
        return data

    def until_eof(self) -> Iterator[bytes]:
        while self.buf or self.fill():
            data = bytes(self.buf)
            self.buf.clear()
            yield data


def _relay_body(
    head: _Head, src: _Reader, dst: socket.socket, msg: _Message, *, bodyless: bool
) -> bool:
    """Relay one body; True when it was close-delimited (the connection ends with it)."""
    if bodyless:
        return False
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        while True:
            size_line = src.line()
            msg.send(dst, size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := src.line()) != b"\r\n":
                    msg.send(dst, trailer)
                msg.send(dst, trailer)
                return False
            left = size + 2
            while left:
                data = src.some(left)
                left -= len(data)
                msg.send(dst, data)
    if "content-length" in head.headers:
        left = int(head.headers["content-length"])
        while left:
            data = src.some(left)
            left -= len(data)
            msg.send(dst, data)
        return False
    if msg.direction == "request":
        return False
    for data in src.until_eof():
        msg.send(dst, data)
    return True


def _reset(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """Forwards 127.0.0.1:<port> to one loopback upstream, injecting the configured faults."""

    def __init__(
        self,
        upstream_port: int,
        upstream_host: str = "127.0.0.1",
        *,
        max_connections: int = 64,
        idle_timeout: float = 30.0,
        lifetime: float = 600.0,
    ) -> None:
        if not ipaddress.ip_address(upstream_host).is_loopback:
            raise ValueError(f"the fault proxy only forwards to loopback, not {upstream_host!r}")
        self.upstream = (upstream_host, upstream_port)
        self.idle_timeout = idle_timeout
        self.journal: list[Event] = []
        self.stopping = threading.Event()
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._conns = 0
        self._deadline = time.monotonic() + lifetime
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- configuration (safe while running) -------------------------------------------------

    def add(self, *faults: Fault) -> FaultProxy:
        with self._lock:
            self._faults.extend(faults)
        return self

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.journal.clear()

    def requests(self) -> list[str]:
        return [e.detail for e in list(self.journal) if e.kind == "request"]

    def fired(self, kind: str | None = None) -> list[Event]:
        return [
            e
            for e in list(self.journal)
            if e.kind == "fault" and (kind is None or e.detail.startswith(kind))
        ]

    def log(self, conn: int, kind: str, detail: str) -> None:
        with self._lock:
            self.journal.append(Event(conn, kind, detail))

    def rules(self, direction: Direction, method: str, target: str) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.matches(direction, method, target)]

    def fire(self, rule: Fault, conn: int, label: str) -> bool:
        """Fire ``rule`` if its skip/times budget allows; a reset raises ``_ResetError``."""
        with self._lock:
            rule.seen += 1
            if rule.seen <= rule.skip or (rule.times is not None and rule.fired >= rule.times):
                return False
            rule.fired += 1
            self.journal.append(Event(conn, "fault", f"{rule.describe()}: {label}"))
        if rule.kind == "reset":
            raise _ResetError(label)
        if rule.kind == "stall" and self.stopping.wait(rule.seconds):
            raise _ClosedError("proxy stopping")
        return True

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()
        _close(self._listener)
        with self._lock:
            socks = list(self._sockets)
        for sock in socks:
            _close(sock)
        self._acceptor.join(5)
        for thread in list(self._threads):
            thread.join(5)

    def _accept(self) -> None:
        self._listener.settimeout(_POLL)
        while not self.stopping.is_set() and time.monotonic() < self._deadline:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns += 1
            if not self._slots.acquire(blocking=False):
                self.log(self._conns, "refused", "too many connections")
                _close(client)
                continue
            thread = threading.Thread(
                target=self._serve, args=(client, self._conns), name="fault-proxy-conn", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        # Past its lifetime the proxy refuses new connections instead of leaving them queued.
        _close(self._listener)

    def _track(self, sock: socket.socket) -> socket.socket:
        sock.settimeout(self.idle_timeout)
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _serve(self, client: socket.socket, conn: int) -> None:
        session = _Session(self, self._track(client), conn)
        try:
            session.run()
            _close(client)
        except _ResetError:
            _reset(client)
            _reset(session.upstream)
        except (_ClosedError, OSError, ValueError) as exc:
            self.log(conn, "closed", f"{type(exc).__name__}: {exc}")
            _close(client)
        finally:
            _close(session.upstream)
            with self._lock:
                self._sockets.difference_update({client, session.upstream})
            self._slots.release()

    def connect_upstream(self) -> socket.socket:
        return self._track(socket.create_connection(self.upstream, timeout=5))


class _Session:
    """One client connection: requests relayed one after another over kept-alive sockets."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, conn: int) -> None:
        self.proxy, self.client, self.conn = proxy, client, conn
        self.reader = _Reader(client, proxy)
        self.upstream: socket.socket | None = None
        self.up_reader: _Reader | None = None

    def run(self) -> None:
        proxy = self.proxy
        while (raw := self.reader.head()) is not None:
            req = _Head.parse(raw)
            method, target = req.first[0], req.first[1] if len(req.first) > 1 else ""
            label = f"{method} {target}"
            proxy.log(self.conn, "request", label)
            rules = proxy.rules("request", method, target)
            for rule in [r for r in rules if r.after_bytes == 0 and r.kind != "throttle"]:
                rules.remove(rule)
                if proxy.fire(rule, self.conn, label) and rule.kind == "slowdown":
                    _slow_down(self.client, self.reader)
                    return
            upstream, up_reader = self._upstream()
            if req.headers.get("expect", "").lower() == "100-continue":
                raw = _without_header(raw, "expect")
                self.client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            upstream.sendall(raw)
            msg = _Message(proxy, self.conn, "request", label, rules)
            _relay_body(req, self.reader, upstream, msg, bodyless=False)
            if self._response(method, label, up_reader) or req.closes():
                return

    def _upstream(self) -> tuple[socket.socket, _Reader]:
        if self.upstream is None or self.up_reader is None or not _alive(self.upstream):
            _close(self.upstream)
            self.upstream = self.proxy.connect_upstream()
            self.up_reader = _Reader(self.upstream, self.proxy)
        return self.upstream, self.up_reader

    def _response(self, method: str, label: str, src: _Reader) -> bool:
        """Relay one response (and any 1xx before it); True when the connection must end."""
        while True:
            raw = src.head()
            if raw is None:
                raise _ClosedError("upstream closed before answering")
            head = _Head.parse(raw)
            status = int(head.first[1]) if len(head.first) > 1 else 0
            self.client.sendall(raw)
            if status >= 200:
                break
        self.proxy.log(self.conn, "response", f"{status} for {label}")
        rules = self.proxy.rules("response", method, label.split(" ", 1)[1])
        msg = _Message(self.proxy, self.conn, "response", label, rules)
        bodyless = method == "HEAD" or status in (204, 304)
        return _relay_body(head, src, self.client, msg, bodyless=bodyless) or head.closes()


def _slow_down(client: socket.socket, reader: _Reader) -> None:
    client.sendall(
        b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
        + f"Content-Length: {len(SLOW_DOWN_BODY)}\r\n".encode()
        + b"Retry-After: 0\r\nConnection: close\r\n\r\n"
        + SLOW_DOWN_BODY
    )
    # Drain what the client still sends (an unread body would turn our close into an RST
    # that could overtake the 503), until it closes after reading the answer.
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)
    drained, deadline = 0, time.monotonic() + 5
    while drained < 256 * 1024 * 1024 and reader.fill(deadline - time.monotonic()):
        drained += len(reader.buf)
        reader.buf.clear()


def _readable(sock: socket.socket, timeout: float) -> bool:
    # poll, not select: select fails on descriptors above 1023, which a long test run reaches.
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(timeout * 1000))


def _alive(sock: socket.socket) -> bool:
    """False if the upstream closed an idle keep-alive connection."""
    try:
        return not _readable(sock, 0) or bool(sock.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


def _without_header(raw: bytes, name: str) -> bytes:
    lines = raw.split(b"\r\n")
    keep = [ln for ln in lines if not ln.lower().startswith(name.encode() + b":")]
    return b"\r\n".join(keep)


@pytest.fixture
def fault_proxy_factory() -> Iterator[Callable[..., FaultProxy]]:
    """``make(upstream_port, **options) -> FaultProxy``; every proxy made is stopped after the
    test, so a failing test cannot leave a proxy (or its threads) behind."""
    made: list[FaultProxy] = []

    def make(upstream_port: int, **options: Any) -> FaultProxy:
        proxy = FaultProxy(upstream_port, **options)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()
