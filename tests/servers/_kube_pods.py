"""Pod subresources of the fake API server: ``pods/log`` and ``pods/exec`` (over a WebSocket).

The API server runs no containers: it checks the request (the pod exists, the container is one of
the pod's, the options make sense), then hands the stream to the kubelet of the pod's node. Here
that kubelet is a pluggable :class:`PodHost`; these functions do the API server's part and speak
the wire protocols (a plain or chunked ``text/plain`` body for logs; RFC 6455 with Kubernetes'
channel sub-protocols for exec).

A :class:`PodHost` may raise :class:`ApiError` to answer as a kubelet would (e.g. 400
``container "main" in pod "p" is waiting to start: ContainerCreating``): ``log`` should check
before it returns its iterator, since a follow stream's headers are sent at once, as upstream.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from tests.servers._kube_store import ApiError

Streamer = Callable[[BaseHTTPRequestHandler], None]
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
_STDOUT, _STDERR, _ERROR = 1, 2, 3
_FRAME_BYTES = 32 * 1024  # the kubelet also splits long output into several frames
# The kubelet's (and, since 1.30, the API server's) exec sub-protocols: binary or base64
# frames; v4 and later send a JSON Status on the error channel, older ones a bare message.
_PROTOCOLS = {
    "v5.channel.k8s.io": (True, True),
    "v4.channel.k8s.io": (True, True),
    "v4.base64.channel.k8s.io": (False, True),
    "channel.k8s.io": (True, False),
    "base64.channel.k8s.io": (False, False),
    "": (True, False),
}


class PodHost(Protocol):
    """The kubelet side of ``pods/log`` and ``pods/exec`` (a test's node agent)."""

    def log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        follow: bool,
        tail_lines: int | None,
        timestamps: bool,
        previous: bool,
    ) -> Iterator[bytes]: ...

    def exec(
        self, namespace: str, pod: str, container: str, command: list[str]
    ) -> tuple[bytes, bytes, int]:
        """Run ``command`` in the container: (stdout, stderr, exit code)."""
        ...


def parse_bool(query: Mapping[str, str], name: str) -> bool:
    """A query flag as Go's ``strconv.ParseBool`` reads it (the Python client sends ``True``)."""
    value = query.get(name, "")
    if value in ("", "0", "f", "F", "false", "FALSE", "False"):
        return False
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    raise ApiError(400, "BadRequest", f'{name}: invalid boolean value "{value}"')


def _parse_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "BadRequest", f'{name}: invalid integer value "{value}"') from None


def choose_container(pod: dict[str, Any], wanted: str) -> str:
    """The container a log or exec request means, with the API server's refusals."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    groups = ("initContainers", "containers", "ephemeralContainers")
    every = [c.get("name", "") for group in groups for c in spec.get(group) or []]
    if wanted:
        if wanted not in every:
            raise ApiError(400, "BadRequest", f"container {wanted} is not valid for pod {name}")
        return wanted
    main = [c.get("name", "") for c in spec.get("containers") or []]
    if len(main) == 1:
        return main[0]
    message = f"a container name must be specified for pod {name}"
    if main:
        message += f", choose one of: [{' '.join(every)}]"
    raise ApiError(400, "BadRequest", message)


def _host(host: PodHost | None, pod: str) -> PodHost:
    if host is None:  # no node agent plays the kubelet: as for a pod never scheduled
        raise ApiError(400, "BadRequest", f"pod {pod} does not have a host assigned")
    return host


# --- logs ------------------------------------------------------------------------------------


def log_streamer(host: PodHost | None, pod: dict[str, Any], query: Mapping[str, str]) -> Streamer:
    """Check a ``pods/log`` request and return what sends its answer."""
    container = choose_container(pod, query.get("container", ""))
    follow = parse_bool(query, "follow")
    options = {
        "follow": follow,
        "tail_lines": _parse_int(query, "tailLines"),
        "timestamps": parse_bool(query, "timestamps"),
        "previous": parse_bool(query, "previous"),
    }
    limit = _parse_int(query, "limitBytes")
    meta = pod["metadata"]
    chunks = _host(host, meta["name"]).log(meta["namespace"], meta["name"], container, **options)
    if not follow:
        body = b"".join(chunks)  # a kubelet's ApiError still becomes a Status here
        body = body if limit is None else body[:limit]
        return lambda handler: _send_text(handler, body)
    return lambda handler: _follow(handler, chunks, limit)


def _send_text(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _follow(handler: BaseHTTPRequestHandler, chunks: Iterator[bytes], limit: int | None) -> None:
    """Stream chunks as they come, until the kubelet's iterator ends or the client leaves."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.close_connection = True
    sent = 0
    try:
        for chunk in chunks:
            piece = chunk if limit is None else chunk[: limit - sent]
            if piece:
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                handler.wfile.flush()
                sent += len(piece)
            if limit is not None and sent >= limit:
                break
        handler.wfile.write(b"0\r\n\r\n")
    except (OSError, ApiError):
        pass  # the client went away, or the kubelet failed after the headers: end the body
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # let a generator-based kubelet clean up


# --- exec ------------------------------------------------------------------------------------


def exec_streamer(
    host: PodHost | None,
    pod: dict[str, Any],
    query: Mapping[str, str],
    command: list[str],
    headers: Any,
) -> Streamer:
    """Check a ``pods/exec`` request (before any upgrade) and return the WebSocket session."""
    container = choose_container(pod, query.get("container", ""))
    tty = parse_bool(query, "tty")
    wants = {
        "stdin": parse_bool(query, "stdin"),
        "stdout": parse_bool(query, "stdout"),
        "stderr": parse_bool(query, "stderr") and not tty,  # the kubelet drops stderr with a tty
    }
    meta = pod["metadata"]
    kubelet = _host(host, meta["name"])
    if not any(wants.values()):
        raise ApiError(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
    if not command:
        message = "you must specify at least one command for the container"
        raise ApiError(400, "BadRequest", message)
    upgrade = (headers.get("Upgrade") or "").lower()
    if not upgrade:
        raise ApiError(400, "BadRequest", "Upgrade request required")
    if upgrade != "websocket":
        message = f"unable to upgrade connection: {upgrade} is not supported by this fake"
        raise ApiError(400, "BadRequest", message)
    key = headers.get("Sec-WebSocket-Key")
    if not key or headers.get("Sec-WebSocket-Version") != "13":
        message = "websocket: the client is not using the websocket protocol (version 13)"
        raise ApiError(400, "BadRequest", message)
    protocol = _negotiate(headers.get_all("Sec-WebSocket-Protocol") or [])

    def run() -> tuple[bytes, bytes, int | ApiError]:
        try:
            return kubelet.exec(meta["namespace"], meta["name"], container, command)
        except ApiError as exc:
            return b"", b"", exc

    session = _ExecSession(
        key=key, protocol=protocol, wants=wants, tty=tty, command=command, run=run
    )
    return session.serve


def _negotiate(offered: Iterable[str]) -> str:
    """The client's first protocol the server knows, as ``wsstream``'s handshake picks."""
    wanted = [p.strip() for value in offered for p in value.split(",") if p.strip()]
    for protocol in wanted or [""]:
        if protocol in _PROTOCOLS:
            return protocol
    supported = [p for p in _PROTOCOLS if p]
    message = f"requested protocol(s) are not supported: {wanted}; supports {supported}"
    raise ApiError(400, "BadRequest", message)


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, size])
    elif size < 1 << 16:
        head = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
    return head + payload  # a server never masks its frames


def read_frame(rfile: Any) -> tuple[int, bytes] | None:
    """One client frame (unmasked), or None at end of stream or on an unmasked frame."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode, masked, size = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
    if size in (126, 127):
        size = int.from_bytes(rfile.read(2 if size == 126 else 8), "big")
    if not masked:
        return None  # RFC 6455 §5.1: a server must fail a connection with unmasked client frames
    mask = rfile.read(4)
    data = rfile.read(size)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def exit_status(command: list[str], code: int | ApiError) -> dict[str, Any]:
    """The error channel's ``Status`` for an exec that ended with ``code``, as the kubelet says."""
    if isinstance(code, ApiError):
        status = {"metadata": {}, "status": "Failure", "message": code.message}
        return {**status, "reason": code.reason, "code": code.code}
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    message = (
        "command terminated with non-zero exit code: error executing command "
        f"[{' '.join(command)}], exit code {code}"
    )
    return {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


class _ExecSession:
    """One upgraded exec connection: output frames, the error channel, then a close."""

    def __init__(
        self,
        *,
        key: str,
        protocol: str,
        wants: dict[str, bool],
        tty: bool,
        command: list[str],
        run: Callable[[], tuple[bytes, bytes, int | ApiError]],
    ) -> None:
        self.key, self.protocol, self.wants, self.tty = key, protocol, wants, tty
        self.command, self.run = command, run
        self.binary, self.json_status = _PROTOCOLS[protocol]

    def _handshake(self, handler: BaseHTTPRequestHandler) -> None:
        accept = base64.b64encode(hashlib.sha1((self.key + _WS_GUID).encode()).digest())
        handler.send_response(101)
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept.decode())
        if self.protocol:
            handler.send_header("Sec-WebSocket-Protocol", self.protocol)
        handler.end_headers()
        handler.wfile.flush()

    def _send(self, handler: BaseHTTPRequestHandler, channel: int, data: bytes) -> None:
        for start in range(0, len(data), _FRAME_BYTES):
            piece = data[start : start + _FRAME_BYTES]
            if self.binary:
                frame = _frame(_OP_BINARY, bytes([channel]) + piece)
            else:
                frame = _frame(_OP_TEXT, str(channel).encode() + base64.b64encode(piece))
            handler.wfile.write(frame)
        handler.wfile.flush()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        self._handshake(handler)
        stdout, stderr, code = self.run()
        if self.tty:
            stdout, stderr = stdout + stderr, b""  # one terminal: both streams interleave
        with contextlib.suppress(OSError):
            if self.wants["stdout"] and stdout:
                self._send(handler, _STDOUT, stdout)
            if self.wants["stderr"] and stderr:
                self._send(handler, _STDERR, stderr)
            status = exit_status(self.command, code)
            if self.json_status:
                self._send(handler, _ERROR, json.dumps(status).encode())
            elif status["status"] != "Success":
                self._send(handler, _ERROR, status["message"].encode())
            handler.wfile.write(_frame(_OP_CLOSE, (1000).to_bytes(2, "big")))
            handler.wfile.flush()
            self._await_close(handler)

    def _await_close(self, handler: BaseHTTPRequestHandler) -> None:
        """Read the client's frames (stdin is discarded) until its close answers ours."""
        handler.connection.settimeout(2.0)
        with contextlib.suppress(OSError, socket.timeout):
            while (frame := read_frame(handler.rfile)) is not None:
                opcode, data = frame
                if opcode == _OP_CLOSE:
                    return
                if opcode == _OP_PING:
                    handler.wfile.write(_frame(_OP_PONG, data))
