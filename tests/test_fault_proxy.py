"""The fault proxy itself, against a tiny stdlib HTTP/1.1 upstream on loopback."""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.servers.faults import SLOW_DOWN_BODY, Fault, FaultProxy


def blob(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stored: dict[str, bytes] = {}

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # truncated bodies are what the faults are for


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _blob(self, head_only: bool) -> None:
        size = int(self.path.split("/")[2].split("?")[0])
        body = blob(size)
        self.send_response(200)
        if "chunked" in self.path:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, size, 1000):
                piece = body[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if "close" in self.path:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._blob(head_only=False)

    def do_HEAD(self) -> None:
        self._blob(head_only=True)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return bytes(out)
        return self.rfile.read(int(self.headers["Content-Length"]))

    def do_PUT(self) -> None:
        body = self._read_body()
        if len(body) != int(self.headers.get("X-Expected-Size", len(body))):
            self.close_connection = True
            return
        self.server.stored[self.path] = body
        answer = hashlib.sha256(body).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream: Upstream, fault_proxy_factory: Callable[..., FaultProxy]) -> FaultProxy:
    upstream.stored.clear()
    return fault_proxy_factory(upstream.server_address[1])


def connect(proxy: FaultProxy, timeout: float = 10) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def put(conn: http.client.HTTPConnection, path: str, body: bytes, **headers: str) -> bytes:
    headers.setdefault("X-Expected-Size", str(len(body)))
    conn.request("PUT", path, body=body, headers=headers)
    return conn.getresponse().read()


def test_requests_on_one_kept_alive_connection_are_each_counted(proxy: FaultProxy) -> None:
    conn = connect(proxy)
    assert get(conn, "/blob/5000") == (200, blob(5000))
    conn.request("HEAD", "/blob/7000")
    head = conn.getresponse()
    assert (head.status, head.read(), head.getheader("Content-Length")) == (200, b"", "7000")
    assert get(conn, "/blob/3000?chunked") == (200, blob(3000))
    assert put(conn, "/sink/a", b"xyz") == hashlib.sha256(b"xyz").hexdigest().encode()
    conn.close()
    assert proxy.requests() == [
        "GET /blob/5000",
        "HEAD /blob/7000",
        "GET /blob/3000?chunked",
        "PUT /sink/a",
    ]
    assert len({e.conn for e in proxy.journal}) == 1


def test_a_response_reset_fires_mid_body_only_the_first_k_times(proxy: FaultProxy) -> None:
    proxy.add(Fault.reset("response", 100_000, times=2))
    for _ in range(2):
        conn = connect(proxy)
        conn.request("GET", "/blob/300000")
        resp = conn.getresponse()
        with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
            resp.read()
        conn.close()
    assert get(connect(proxy), "/blob/300000") == (200, blob(300000))
    assert len(proxy.fired("reset")) == 2


def test_a_response_shorter_than_the_offset_is_not_reset(proxy: FaultProxy) -> None:
    proxy.add(Fault.reset("response", 10_000))
    assert get(connect(proxy), "/blob/9000") == (200, blob(9000))
    assert proxy.fired() == []


def test_a_close_delimited_response_is_relayed_and_can_be_reset(proxy: FaultProxy) -> None:
    assert get(connect(proxy), "/blob/50000?close") == (200, blob(50000))
    proxy.add(Fault.reset("response", 20_000))
    conn = connect(proxy)
    conn.request("GET", "/blob/50000?close")
    with pytest.raises(ConnectionResetError):
        conn.getresponse().read()


def test_a_request_reset_mid_upload_never_hands_the_upstream_a_complete_body(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add(Fault.reset("request", 64 * 1024, method="PUT"))
    body = blob(1_000_000)
    with pytest.raises((ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        put(connect(proxy), "/sink/big", body)
    assert "/sink/big" not in upstream.stored
    assert put(connect(proxy), "/sink/big", body) == hashlib.sha256(body).hexdigest().encode()
    assert upstream.stored["/sink/big"] == body


def test_a_chunked_upload_is_relayed_and_its_framing_counted(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    body = blob(200_000)
    chunks = (body[i : i + 30_000] for i in range(0, len(body), 30_000))
    conn = connect(proxy)
    conn.request("PUT", "/sink/chunked", body=chunks, encode_chunked=True)
    assert conn.getresponse().read() == hashlib.sha256(body).hexdigest().encode()
    proxy.add(Fault.reset("request", 100_000))
    conn = connect(proxy)
    with pytest.raises((ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        conn.request("PUT", "/sink/c2", body=iter([body]), encode_chunked=True)
        conn.getresponse().read()
    assert "/sink/c2" not in upstream.stored


def test_a_request_reset_at_offset_zero_hits_bodiless_requests(proxy: FaultProxy) -> None:
    proxy.add(Fault.reset("request", 0, times=None, method="GET"))
    for _ in range(3):
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            get(connect(proxy), "/blob/10")
    assert len(proxy.fired("reset")) == 3


def test_slow_down_answers_the_first_k_requests_without_forwarding(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add(Fault.slow_down(times=2))
    for _ in range(2):
        conn = connect(proxy)
        conn.request("PUT", "/sink/s", body=blob(500_000), headers={"Expect": "100-continue"})
        resp = conn.getresponse()
        assert resp.status == 503
        assert resp.read() == SLOW_DOWN_BODY
        assert resp.getheader("Content-Length") == str(len(SLOW_DOWN_BODY))
    assert "/sink/s" not in upstream.stored
    assert [e.kind for e in proxy.journal].count("response") == 0
    body = blob(500_000)
    assert put(connect(proxy), "/sink/s", body, Expect="100-continue") == (
        hashlib.sha256(body).hexdigest().encode()
    )
    assert b"<Code>SlowDown</Code>" in SLOW_DOWN_BODY


def test_faults_can_change_while_a_connection_stays_open(proxy: FaultProxy) -> None:
    conn = connect(proxy)
    assert get(conn, "/blob/1000") == (200, blob(1000))
    proxy.add(Fault.slow_down())
    assert get(conn, "/blob/1000") == (503, SLOW_DOWN_BODY)
    conn.close()
    proxy.clear()
    proxy.add(Fault.reset("response", 10, skip=1))
    conn = connect(proxy)
    assert get(conn, "/blob/1000") == (200, blob(1000))
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        get(conn, "/blob/1000")


def test_a_stall_outlasting_the_client_read_timeout_times_the_client_out(
    proxy: FaultProxy,
) -> None:
    proxy.add(Fault.stall("response", 1000, seconds=5))
    conn = connect(proxy, timeout=0.3)
    conn.request("GET", "/blob/20000")
    with pytest.raises(TimeoutError):
        conn.getresponse().read()
    assert [e.detail for e in proxy.fired("stall")] == [
        "stall response after 1000 B for 5s: GET /blob/20000"
    ]
    assert get(connect(proxy), "/blob/20000") == (200, blob(20000))


def test_a_throttled_body_arrives_intact(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.add(
        Fault.throttle("response", 400_000, method="GET"),
        Fault.throttle("request", 400_000, method="PUT"),
    )
    assert get(connect(proxy), "/blob/100000") == (200, blob(100000))
    body = blob(100_000)
    assert put(connect(proxy), "/sink/t", body) == hashlib.sha256(body).hexdigest().encode()
    assert [e.detail.split(":")[0] for e in proxy.fired("throttle")] == [
        "throttle response after 0 B at 400000 B/s",
        "throttle request after 0 B at 400000 B/s",
    ]


def test_the_proxy_refuses_a_non_loopback_upstream() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(80, "192.0.2.1")


def test_stopping_the_proxy_closes_its_port_and_open_connections(
    upstream: Upstream,
) -> None:
    proxy = FaultProxy(upstream.server_address[1])
    conn = connect(proxy)
    assert get(conn, "/blob/10") == (200, blob(10))
    proxy.stop()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(conn, "/blob/10")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    assert not any(t.name.startswith("fault-proxy") for t in threading.enumerate())


def test_connections_beyond_the_limit_are_refused(
    upstream: Upstream, fault_proxy_factory: Callable[..., FaultProxy]
) -> None:
    proxy = fault_proxy_factory(upstream.server_address[1], max_connections=1)
    first = connect(proxy)
    assert get(first, "/blob/10") == (200, blob(10))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(connect(proxy), "/blob/10")
    assert [e.kind for e in proxy.journal].count("refused") == 1


def test_a_proxy_past_its_lifetime_refuses_new_connections(
    upstream: Upstream, fault_proxy_factory: Callable[..., FaultProxy]
) -> None:
    proxy = fault_proxy_factory(upstream.server_address[1], lifetime=0)
    proxy._acceptor.join(5)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
