"""How part bodies are sent: pooled buffers, one verified checksum per request, byte-identical.

Over plain HTTP botocore signs every payload's SHA-256, so no Content-MD5 is added; over HTTPS
Content-MD5 is sent and botocore then uses ``UNSIGNED-PAYLOAD``. Either way the server checks one
digest of every part. Checked from the server side through a recording proxy.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import pytest

from artifacts.drivers.s3 import S3Driver
from artifacts.drivers.s3.client import EXPECT_CONTINUE_MIN_BYTES
from artifacts.drivers.s3.upload import PartBody
from tests.servers.backend import Backend
from tests.servers.s3 import S3Server, make_ca, recording_proxy, write_secret

MIB = 1024 * 1024
PART = 5 * MIB  # the fixtures' part size


def _parts(payload: bytes) -> dict[int, bytes]:
    return {n + 1: payload[off : off + PART] for n, off in enumerate(range(0, len(payload), PART))}


def _header(headers: dict[str, str], name: str) -> str | None:
    return {k.lower(): v for k, v in headers.items()}.get(name.lower())


def _part_number(path: str) -> int:
    return int(path.split("partNumber=")[1].split("&", maxsplit=1)[0])


def test_over_http_parts_are_sha256_signed_without_content_md5(s3_moto: Backend) -> None:
    payload = os.urandom(2 * PART + 1234)
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        art = s3_moto.artifact("http/parts", s3={"endpoint": proxy.endpoint})
        result = S3Driver(s3_moto.ctx).save_stream(io.BytesIO(payload), art)
    parts = [r for r in proxy.requests if "partNumber=" in r.path]
    assert len(parts) == 3
    for rec in parts:
        expected = hashlib.sha256(_parts(payload)[_part_number(rec.path)]).hexdigest()
        assert _header(rec.headers, "x-amz-content-sha256") == expected
        assert _header(rec.headers, "Content-MD5") is None
    assert s3_moto.get_object("http/parts") == payload
    assert result.sha256 == hashlib.sha256(payload).hexdigest()


def test_over_https_parts_carry_content_md5_and_an_unsigned_payload(
    s3_seaweed: Backend, tmp_path: Path
) -> None:
    payload = os.urandom(PART + 99)
    ca = make_ca(tmp_path)
    root: Path = s3_seaweed.extra["secrets_dir"]  # type: ignore[assignment]
    write_secret(root, "s3-ca", "ca.crt", ca.ca_pem)
    server: S3Server = s3_seaweed.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint, tls=ca.server_context) as proxy:
        art = s3_seaweed.artifact(
            "https/parts",
            s3={
                "endpoint": proxy.endpoint,
                "insecure": False,
                "caSecret": {"name": "s3-ca", "key": "ca.crt"},
            },
        )
        S3Driver(s3_seaweed.ctx).save_stream(io.BytesIO(payload), art)
    parts = [r for r in proxy.requests if "partNumber=" in r.path]
    assert len(parts) == 2
    for rec in parts:
        digest = hashlib.md5(_parts(payload)[_part_number(rec.path)]).digest()
        assert _header(rec.headers, "Content-MD5") == base64.b64encode(digest).decode()
        assert _header(rec.headers, "x-amz-content-sha256") == "UNSIGNED-PAYLOAD"
    assert s3_seaweed.get_object("https/parts") == payload


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 3 * PART + 7])
def test_streams_of_any_length_around_the_part_size_round_trip(s3_moto: Backend, size: int) -> None:
    payload = os.urandom(size)
    art = s3_moto.artifact(f"sizes/{size}")
    result = S3Driver(s3_moto.ctx).save_stream(io.BytesIO(payload), art)
    assert (result.size, result.sha256) == (size, hashlib.sha256(payload).hexdigest())
    assert s3_moto.get_object(f"sizes/{size}") == payload


def test_a_large_stream_reads_into_buffers_of_any_size(s3_moto: Backend) -> None:
    payload = os.urandom(23 * MIB + 3)
    s3_moto.put_object("into/big", payload)
    stream = S3Driver(s3_moto.ctx).open_stream(s3_moto.artifact("into/big"))
    got = bytearray()
    buffer = bytearray(3 * MIB + 17)
    try:
        while count := stream.readinto(buffer):
            got += buffer[:count]
            if len(got) > 8 * MIB:
                got += stream.read(12345)  # reads and readintos interleave
    finally:
        stream.close()
    assert bytes(got) == payload


def test_a_part_body_reads_slices_and_seeks_back_for_a_retry() -> None:
    body = PartBody(bytearray(b"0123456789"))
    assert len(body) == 10
    assert bytes(body.read(4)) == b"0123"
    assert body.tell() == 4
    assert bytes(body.read()) == b"456789"
    assert bytes(body.read(3)) == b""
    assert body.seek(0) == 0
    assert bytes(body.read(100)) == b"0123456789"
    assert body.seek(-2, 2) == 8
    assert bytes(body.read(5)) == b"89"


def test_a_small_object_is_put_without_waiting_for_100_continue(
    s3_seaweed: Backend, tmp_path: Path
) -> None:
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(os.urandom(10 * 1024))
    large.write_bytes(os.urandom(EXPECT_CONTINUE_MIN_BYTES + 1))
    server: S3Server = s3_seaweed.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        for path in (small, large):
            art = s3_seaweed.artifact(f"expect/{path.name}", s3={"endpoint": proxy.endpoint})
            S3Driver(s3_seaweed.ctx).save(path, art)
    puts = {r.path.rsplit("/", 1)[-1]: r for r in proxy.requests if r.method == "PUT"}
    assert _header(puts["small.bin"].headers, "Expect") is None
    assert _header(puts["large.bin"].headers, "Expect") == "100-continue"
    assert s3_seaweed.get_object("expect/small.bin") == small.read_bytes()
