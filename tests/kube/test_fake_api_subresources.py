"""The fake API server's pod subresources (log, exec, binding), spoken to with the official
``kubernetes`` client where the cluster controller will use it, and with raw sockets for the
wire details."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import kubernetes
import pytest
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.stream import stream

from tests.kube.test_fake_api import call
from tests.servers._kube_pods import read_frame
from tests.servers._kube_store import ApiError
from tests.servers.kube import FakeKube

NS = "argo"
POD = f"/api/v1/namespaces/{NS}/pods"


class Kubelet:
    """A node agent for tests: runs exec commands as host processes, serves logs it is fed."""

    def __init__(self) -> None:
        self.lines: dict[str, list[bytes]] = {}
        self.done: set[str] = set()
        self.calls: list[tuple[Any, ...]] = []
        self.changed = threading.Condition()

    def write(self, container: str, line: bytes) -> None:
        with self.changed:
            self.lines.setdefault(container, []).append(line)
            self.changed.notify_all()

    def terminate(self, container: str) -> None:
        with self.changed:
            self.done.add(container)
            self.changed.notify_all()

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
    ) -> Iterator[bytes]:
        self.calls.append(("log", namespace, pod, container, follow, tail_lines, timestamps))
        with self.changed:
            lines = list(self.lines.get(container, []))
        start = 0 if tail_lines is None else max(0, len(lines) - tail_lines)
        return self._lines(container, start, follow)

    def _lines(self, container: str, index: int, follow: bool) -> Iterator[bytes]:
        while True:
            with self.changed:
                self.changed.wait_for(self._news(container, index, follow), timeout=10)
                lines = self.lines.get(container, [])[index:]
                over = not follow or container in self.done
            yield from lines
            index += len(lines)
            if over and not lines:
                return

    def _news(self, container: str, index: int, follow: bool) -> Any:
        return lambda: (
            not follow or container in self.done or len(self.lines.get(container, [])) > index
        )

    def exec(
        self, namespace: str, pod: str, container: str, command: list[str]
    ) -> tuple[bytes, bytes, int]:
        self.calls.append(("exec", namespace, pod, container, command))
        done = subprocess.run(command, capture_output=True, timeout=20, check=False)
        return done.stdout, done.stderr, done.returncode


def seed_pod(fake: FakeKube, name: str = "p", containers: tuple[str, ...] = ("main",)) -> None:
    spec = {"initContainers": [{"name": "init"}], "containers": [{"name": c} for c in containers]}
    meta = {"name": name, "namespace": NS}
    fake.seed({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})


@pytest.fixture(params=["kube_api", "kube_api_tls"])
def fake(request: pytest.FixtureRequest) -> FakeKube:
    """Both servers: exec must work over ws:// and wss://."""
    server: FakeKube = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def kubelet(kube_api: FakeKube) -> Kubelet:
    kube_api.kubelet = host = Kubelet()
    seed_pod(kube_api, containers=("wait", "main"))
    return host


def client(fake: FakeKube, tmp_path: Path, token: str | None = None) -> ApiClient:
    path = fake.kubeconfig(tmp_path / "kubeconfig", token=token or fake.token)
    return kubernetes.config.new_client_from_config(config_file=str(path))


# --- exec -----------------------------------------------------------------------------------


def test_exec_through_kubernetes_stream_gives_output_and_exit_code(
    fake: FakeKube, tmp_path: Path
) -> None:
    fake.kubelet = host = Kubelet()
    seed_pod(fake, containers=("wait", "main"))
    core = CoreV1Api(client(fake, tmp_path))
    script = "echo to-out; echo to-err >&2; exit 3"
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "p",
        NS,
        command=["sh", "-c", script],
        container="main",
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=10)
    assert resp.returncode == 3
    assert (resp.read_stdout(), resp.read_stderr()) == ("to-out\n", "to-err\n")
    assert host.calls == [("exec", NS, "p", "main", ["sh", "-c", script])]
    plain = stream(
        core.connect_get_namespaced_pod_exec,
        "p",
        NS,
        command=["echo", "hello"],
        container="wait",
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    assert plain == "hello\n"


def test_a_long_exec_output_arrives_whole_over_several_frames(
    fake: FakeKube, tmp_path: Path
) -> None:
    fake.kubelet = Kubelet()
    seed_pod(fake)
    core = CoreV1Api(client(fake, tmp_path))
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "p",
        NS,
        command=["head", "-c", "300000", "/dev/zero"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        binary=True,
        _preload_content=False,
    )
    resp.run_forever(timeout=10)
    assert resp.returncode == 0 and resp.read_stdout() == b"\0" * 300_000


def upgrade(
    fake: FakeKube,
    path: str,
    *,
    protocol: str | None = "v4.channel.k8s.io",
    token: str | None = None,
    method: str = "GET",
) -> tuple[socket.socket, Any, bytes]:
    """A hand-made WebSocket handshake: (socket, its reader, the response head)."""
    url = urlsplit(fake.url)
    sock: socket.socket = socket.create_connection((url.hostname, url.port), timeout=10)
    if url.scheme == "https":
        assert fake.pki is not None
        context = ssl.create_default_context(cadata=fake.pki.ca_pem.decode())
        sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: {url.netloc}",
        f"Authorization: Bearer {token or fake.token}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocol is not None:
        head.append(f"Sec-WebSocket-Protocol: {protocol}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    reader = sock.makefile("rb")
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        line = reader.readline()
        assert line, f"the server closed during the handshake: {response!r}"
        response += line
    return sock, reader, response


def masked_close() -> bytes:
    mask = os.urandom(4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate((1000).to_bytes(2, "big")))
    return bytes([0x88, 0x80 | 2]) + mask + payload


def exec_path(name: str = "p", **query: Any) -> str:
    pairs = [("command", c) for c in query.pop("command", ["true"])]
    pairs += [(k, str(v)) for k, v in query.items()]
    return f"{POD}/{name}/exec?{urlencode(pairs)}"


def test_the_error_channel_carries_the_kubelets_status_then_the_server_closes(
    kube_api: FakeKube, kubelet: Kubelet
) -> None:
    path = exec_path(command=["sh", "-c", "exit 7"], container="main", stdout="true")
    sock, reader, head = upgrade(kube_api, path)
    assert head.startswith(b"HTTP/1.1 101")
    assert b"Sec-WebSocket-Protocol: v4.channel.k8s.io" in head
    frames = []
    while (frame := read_unmasked(reader)) is not None and frame[0] != 0x8:
        frames.append(frame)
    sock.sendall(masked_close())
    sock.close()
    assert frames == [
        (
            0x2,
            b"\x03"
            + json.dumps(
                {
                    "metadata": {},
                    "status": "Failure",
                    "message": "command terminated with non-zero exit code: error executing "
                    "command [sh -c exit 7], exit code 7",
                    "reason": "NonZeroExitCode",
                    "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
                }
            ).encode(),
        )
    ]


def read_unmasked(reader: Any) -> tuple[int, bytes] | None:
    """A server frame (servers never mask)."""
    head = reader.read(2)
    if len(head) < 2:
        return None
    assert not head[1] & 0x80, "a server frame must not be masked"
    size = head[1] & 0x7F
    if size in (126, 127):
        size = int.from_bytes(reader.read(2 if size == 126 else 8), "big")
    return head[0] & 0x0F, reader.read(size)


def test_the_base64_protocol_sends_text_frames_and_success_status(
    kube_api: FakeKube, kubelet: Kubelet
) -> None:
    path = exec_path(command=["printf", "a\\0b"], container="main", stdout="1", stderr="1")
    sock, reader, head = upgrade(
        kube_api, path, protocol="v9.nope, v4.base64.channel.k8s.io", method="POST"
    )
    assert b"Sec-WebSocket-Protocol: v4.base64.channel.k8s.io" in head
    frames = []
    while (frame := read_unmasked(reader)) is not None and frame[0] != 0x8:
        frames.append(frame)
    sock.sendall(masked_close())
    sock.close()
    assert frames == [
        (0x1, b"1" + base64.b64encode(b"a\0b")),
        (0x1, b"3" + base64.b64encode(b'{"metadata": {}, "status": "Success"}')),
    ]


def test_exec_refusals_answer_before_any_upgrade(kube_api: FakeKube) -> None:
    seed_pod(kube_api, containers=("wait", "main"))
    code, status = call(kube_api, "GET", f"{POD}/p/exec", command="true", container="main")
    assert (code, status["message"]) == (400, "pod p does not have a host assigned")
    kube_api.kubelet = Kubelet()
    query = {"command": "true", "stdout": "true"}
    code, status = call(kube_api, "POST", f"{POD}/p/exec", container="main", **query)
    assert (code, status["reason"], status["message"]) == (
        400,
        "BadRequest",
        "Upgrade request required",
    )
    code, status = call(kube_api, "GET", f"{POD}/gone/exec", **query)
    assert (code, status["message"]) == (404, 'pods "gone" not found')
    code, status = call(kube_api, "GET", f"{POD}/p/exec", container="nope", **query)
    assert (code, status["message"]) == (400, "container nope is not valid for pod p")
    code, status = call(kube_api, "GET", f"{POD}/p/exec", **query)
    assert status["message"] == (
        "a container name must be specified for pod p, choose one of: [init wait main]"
    )
    code, status = call(kube_api, "GET", f"{POD}/p/exec", command="true", container="main")
    assert status["message"] == "you must specify at least 1 of stdin, stdout, stderr"


def test_exec_is_authorized_as_create_on_pods_exec_for_get_and_post(
    kube_api: FakeKube, kubelet: Kubelet
) -> None:
    fake = kube_api
    fake.deny("create", "pods/exec", namespace=NS)
    for method in ("GET", "POST"):
        sock, _, head = upgrade(fake, exec_path(container="main", stdout="true"), method=method)
        sock.close()
        assert head.startswith(b"HTTP/1.1 403")
    code, status = call(fake, "GET", f"{POD}/p/exec", command="true", container="main")
    assert (code, status["message"]) == (
        403,
        'pods "p" is forbidden: User "system:serviceaccount:default:tester" cannot create '
        'resource "pods/exec" in API group "" in the namespace "argo"',
    )
    assert kubelet.calls == []
    fake.rules.clear()
    assert call(fake, "GET", f"{POD}/p", container="main")[0] == 200


def test_the_journal_records_exec_with_every_command_word_and_the_user(
    kube_api: FakeKube, kubelet: Kubelet
) -> None:
    fake = kube_api
    token = fake.add_token("system:serviceaccount:argo:argoexec-controller")
    path = exec_path(command=["kill", "-15", "1"], container="main", stdout="true")
    sock, reader, _ = upgrade(fake, path, token=token, method="POST")
    while (frame := read_unmasked(reader)) is not None and frame[0] != 0x8:
        pass
    sock.sendall(masked_close())
    sock.close()
    (entry,) = fake.requests("POST", "/exec$")
    assert entry.user == "system:serviceaccount:argo:argoexec-controller"
    assert entry.status == 101 and entry.path == f"{POD}/p/exec"
    assert [v for k, v in entry.params if k == "command"] == ["kill", "-15", "1"]


def test_an_unmasked_client_frame_ends_the_session() -> None:
    class Reader:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, n: int) -> bytes:
            out, self.data = self.data[:n], self.data[n:]
            return out

    assert read_frame(Reader(bytes([0x88, 2]) + b"\x03\xe8")) is None
    mask = b"\x01\x02\x03\x04"
    masked = bytes([0x82, 0x80 | 3]) + mask + bytes(b ^ mask[i] for i, b in enumerate(b"abc"))
    assert read_frame(Reader(masked)) == (0x2, b"abc")


# --- logs -----------------------------------------------------------------------------------


def test_read_namespaced_pod_log_gets_the_kubelets_text_with_the_options_passed_on(
    kube_api: FakeKube, kubelet: Kubelet, tmp_path: Path
) -> None:
    for line in (b"one\n", b"two\n", b"three\n"):
        kubelet.write("main", line)
    core = CoreV1Api(client(kube_api, tmp_path))
    text = core.read_namespaced_pod_log("p", NS, container="main", tail_lines=2, timestamps=True)
    assert text == "two\nthree\n"
    assert kubelet.calls == [("log", NS, "p", "main", False, 2, True)]
    limited = core.read_namespaced_pod_log("p", NS, container="main", limit_bytes=5)
    assert limited == "one\nt"
    (entry, _) = kube_api.requests("GET", "/log$")
    assert entry.query == {"container": "main", "tailLines": "2", "timestamps": "true"}
    assert entry.status == 200


def test_a_followed_log_streams_lines_as_the_container_writes_them(
    kube_api: FakeKube, kubelet: Kubelet, tmp_path: Path
) -> None:
    kubelet.write("main", b"early\n")
    core = CoreV1Api(client(kube_api, tmp_path))
    resp = core.read_namespaced_pod_log(
        "p", NS, container="main", follow=True, _preload_content=False
    )
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert resp.headers["Content-Type"] == "text/plain"
    chunks = resp.stream(amt=None)
    assert next(chunks) == b"early\n"
    kubelet.write("main", b"later\n")
    assert next(chunks) == b"later\n", "a line written after the request came streamed"
    kubelet.terminate("main")
    assert list(chunks) == [], "the stream ends when the container does"


def test_log_refusals_use_the_api_servers_words(kube_api: FakeKube, tmp_path: Path) -> None:
    seed_pod(kube_api, containers=("wait", "main"))
    code, status = call(kube_api, "GET", f"{POD}/p/log", container="main")
    assert (code, status["message"]) == (400, "pod p does not have a host assigned")
    kube_api.kubelet = Kubelet()
    assert call(kube_api, "GET", f"{POD}/gone/log")[0] == 404
    code, status = call(kube_api, "GET", f"{POD}/p/log", container="nope")
    assert (code, status["reason"], status["message"]) == (
        400,
        "BadRequest",
        "container nope is not valid for pod p",
    )
    code, status = call(kube_api, "GET", f"{POD}/p/log")
    assert status["message"] == (
        "a container name must be specified for pod p, choose one of: [init wait main]"
    )
    assert call(kube_api, "GET", f"{POD}/p/log", container="init")[0] == 200
    assert call(kube_api, "GET", f"{POD}/p/log", container="main", follow="maybe")[0] == 400


def test_a_single_container_pod_needs_no_container_name(kube_api: FakeKube) -> None:
    kube_api.kubelet = host = Kubelet()
    seed_pod(kube_api, containers=("main",))
    host.write("main", b"x\n")
    url = urlsplit(kube_api.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", f"{POD}/p/log", headers={"Authorization": f"Bearer {kube_api.token}"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"x\n")
    assert response.getheader("Content-Type") == "text/plain"
    conn.close()


def test_logs_are_authorized_as_get_on_pods_log(kube_api: FakeKube, kubelet: Kubelet) -> None:
    kube_api.deny("get", "pods/log")
    code, status = call(kube_api, "GET", f"{POD}/p/log", container="main")
    assert code == 403 and 'cannot get resource "pods/log"' in status["message"]
    assert call(kube_api, "GET", f"{POD}/p")[0] == 200, "the pod itself stays readable"
    assert kubelet.calls == []


# --- binding and status, as a node agent uses them ------------------------------------------


def test_a_binding_sets_the_node_once(kube_api: FakeKube, tmp_path: Path) -> None:
    seed_pod(kube_api)
    core = CoreV1Api(client(kube_api, tmp_path))
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    # The API server answers a Status, not the Binding: the typed client cannot read it back
    # (kubernetes-client/python#825), so a node agent reads the raw answer.
    resp = core.create_namespaced_pod_binding("p", NS, body, _preload_content=False)
    assert resp.status == 201 and json.loads(resp.data)["status"] == "Success"
    pod = core.read_namespaced_pod("p", NS)
    assert pod.spec.node_name == "node-1"
    assert [(c.type, c.status) for c in pod.status.conditions] == [("PodScheduled", "True")]
    code, status = call(kube_api, "POST", f"{POD}/p/binding", body)
    assert (code, status["reason"], status["message"]) == (
        409,
        "Conflict",
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node '
        '"node-1"',
    )
    wrong = {**body, "metadata": {"name": "q"}, "target": {"kind": "Pod", "name": "x"}}
    seed_pod(kube_api, "q")
    assert call(kube_api, "POST", f"{POD}/q/binding", wrong)[0] == 422
    assert call(kube_api, "POST", f"{POD}/q/binding", body)[0] == 400, "name must match the URL"


def test_a_node_agent_writes_pod_status_through_the_status_subresource(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    seed_pod(kube_api)
    core = CoreV1Api(client(kube_api, tmp_path))
    container = {"name": "main", "image": "i", "imageID": "", "ready": True, "restartCount": 0}
    status = {"status": {"phase": "Running", "containerStatuses": [container]}}
    patched = core.patch_namespaced_pod_status("p", NS, status)
    assert patched.status.phase == "Running"
    patched.status.phase = "Succeeded"
    replaced = core.replace_namespaced_pod_status("p", NS, patched)
    assert replaced.status.phase == "Succeeded"
    assert kube_api.get("pods", "p", NS)["status"]["phase"] == "Succeeded"


def test_pod_subresources_appear_in_discovery(kube_api: FakeKube) -> None:
    core = {r["name"]: r for r in call(kube_api, "GET", "/api/v1")[1]["resources"]}
    assert core["pods/log"]["verbs"] == ["get"] and core["pods/log"]["kind"] == "Pod"
    assert core["pods/exec"]["verbs"] == ["create", "get"]
    assert core["pods/exec"]["kind"] == "PodExecOptions"
    assert core["pods/binding"]["verbs"] == ["create"]
    assert (
        "configmaps/log" not in core
        and call(kube_api, "GET", "/api/v1/namespaces/argo/configmaps/c/log")[0] == 404
    )


def test_a_kubelet_failure_to_start_the_command_is_a_failure_status(kube_api: FakeKube) -> None:
    class Missing(Kubelet):
        def exec(self, namespace: str, pod: str, container: str, command: list[str]) -> Any:
            message = f'exec: "{command[0]}": executable file not found in $PATH'
            raise ApiError(500, "InternalError", message)

    kube_api.kubelet = Missing()
    seed_pod(kube_api)
    sock, reader, _ = upgrade(kube_api, exec_path(command=["argoexec", "kill"], stdout="true"))
    frames = []
    while (frame := read_unmasked(reader)) is not None and frame[0] != 0x8:
        frames.append(frame)
    sock.sendall(masked_close())
    sock.close()
    ((opcode, data),) = frames
    assert opcode == 0x2 and data[0] == 3
    assert json.loads(data[1:]) == {
        "metadata": {},
        "status": "Failure",
        "message": 'exec: "argoexec": executable file not found in $PATH',
        "reason": "InternalError",
        "code": 500,
    }
