"""Concurrency seen from the server side, and faults on the wire turned into transient errors.

A recording proxy counts requests in flight. Its ``hold`` hook keeps each matching request open
until several are in flight at once (or gives up after a few seconds and stops holding), so a
serial client can never reach the peak the test asserts: evidence without timing assertions.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import pytest

from artifacts.driver import DriverContext
from artifacts.drivers.s3 import S3Driver
from artifacts.errors import ArtifactError
from tests.servers.backend import Backend
from tests.servers.faults import Fault, FaultProxy
from tests.servers.s3 import Recorded, RecordingProxy, S3Server, recording_proxy

MIB = 1024 * 1024


def hold_until(proxy: RecordingProxy, want: int, matches: object) -> None:
    """Make ``proxy`` keep matching requests open until ``want`` are in flight together."""
    reached = threading.Event()
    gave_up = threading.Event()

    def hold(rec: Recorded) -> None:
        if not matches(rec) or gave_up.is_set():  # type: ignore[operator]
            return
        with proxy.lock:
            if proxy.peak >= want:
                reached.set()
        if not reached.wait(5.0):
            gave_up.set()  # a serial client: stop holding so the test fails quickly

    proxy.hold = hold


def test_directory_upload_runs_requests_concurrently(s3_seaweed: Backend, tmp_path: Path) -> None:
    src = tmp_path / "many"
    src.mkdir()
    for i in range(40):
        (src / f"f{i:03}.txt").write_bytes(os.urandom(1024))
    server: S3Server = s3_seaweed.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        hold_until(proxy, 4, lambda r: r.method == "PUT")
        art = s3_seaweed.artifact("many", s3={"endpoint": proxy.endpoint})
        result = S3Driver(s3_seaweed.ctx).save(src, art)
    assert result.objects == 40
    assert proxy.peak >= 4
    assert len(s3_seaweed.list_keys("many/")) == 40


def test_directory_download_runs_requests_concurrently(s3_moto: Backend, tmp_path: Path) -> None:
    for i in range(12):
        s3_moto.put_object(f"dl/{i}", b"x" * i)
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        hold_until(proxy, 3, lambda r: r.method == "GET" and "list-type" not in r.path)
        art = s3_moto.artifact("dl", s3={"endpoint": proxy.endpoint})
        S3Driver(s3_moto.ctx).load(art, tmp_path / "dl")
    assert proxy.peak >= 3
    assert (tmp_path / "dl" / "11").read_bytes() == b"x" * 11


def test_a_large_object_is_read_with_concurrent_ranged_gets(
    s3_moto: Backend, tmp_path: Path
) -> None:
    payload = os.urandom(24 * MIB)
    s3_moto.put_object("ranged", payload)
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        hold_until(proxy, 3, lambda r: "Range" in r.headers)
        art = s3_moto.artifact("ranged", s3={"endpoint": proxy.endpoint})
        S3Driver(s3_moto.ctx).load(art, tmp_path / "ranged")
    ranges = {r.headers["Range"] for r in proxy.requests if "Range" in r.headers}
    chunk = 5 * MIB  # the fixture's download_chunk_size; the first chunk comes from the GET
    assert ranges == {
        f"bytes={n * chunk}-{min((n + 1) * chunk, 24 * MIB) - 1}" for n in (1, 2, 3, 4)
    }
    assert all(r.headers.get("If-Match") for r in proxy.requests if "Range" in r.headers)
    assert proxy.peak >= 3
    assert (tmp_path / "ranged").read_bytes() == payload


def test_a_stream_prefetches_ranges_concurrently_but_delivers_in_order(
    s3_moto: Backend,
) -> None:
    payload = os.urandom(30 * MIB)
    s3_moto.put_object("prefetch", payload)
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        hold_until(proxy, 3, lambda r: "Range" in r.headers)
        art = s3_moto.artifact("prefetch", s3={"endpoint": proxy.endpoint})
        stream = S3Driver(s3_moto.ctx).open_stream(art)
        try:
            got = bytearray()
            while piece := stream.read(MIB):
                got += piece
        finally:
            stream.close()
    assert bytes(got) == payload
    assert proxy.peak >= 3


def test_multipart_parts_are_uploaded_concurrently(s3_moto: Backend) -> None:
    import io

    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        hold_until(proxy, 3, lambda r: "partNumber=" in r.path)
        art = s3_moto.artifact("parts", s3={"endpoint": proxy.endpoint})
        S3Driver(s3_moto.ctx).save_stream(io.BytesIO(os.urandom(26 * MIB)), art)
    assert proxy.peak >= 3
    assert len([r for r in proxy.requests if "partNumber=" in r.path]) == 6


@pytest.fixture
def faulty_moto(s3_moto: Backend, fault_proxy_factory: object) -> tuple[Backend, FaultProxy]:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    port = int(server.endpoint.rsplit(":", 1)[1])
    proxy: FaultProxy = fault_proxy_factory(port)  # type: ignore[operator]
    return s3_moto, proxy


def test_a_connection_reset_mid_body_is_a_transient_error(
    faulty_moto: tuple[Backend, FaultProxy], tmp_path: Path
) -> None:
    s3, proxy = faulty_moto
    s3.put_object("cut", os.urandom(3 * MIB))
    proxy.add(Fault.reset("response", 1 * MIB, method="GET", times=None))
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(s3.artifact("cut", s3={"endpoint": proxy.endpoint}), tmp_path / "c")
    assert err.value.transient
    assert err.value.message.startswith("failed to get file: ")


def test_a_stream_cut_short_raises_a_transient_error_from_read(
    faulty_moto: tuple[Backend, FaultProxy],
) -> None:
    s3, proxy = faulty_moto
    s3.put_object("cut", os.urandom(3 * MIB))
    proxy.add(Fault.reset("response", 1 * MIB, method="GET", times=None))
    stream = S3Driver(s3.ctx).open_stream(s3.artifact("cut", s3={"endpoint": proxy.endpoint}))
    got = 0
    try:
        assert stream.size == 3 * MIB
        with pytest.raises(ArtifactError) as err:
            while piece := stream.read(256 * 1024):
                got += len(piece)
    finally:
        stream.close()
    assert err.value.transient
    assert got < 3 * MIB


def test_slow_down_answers_are_transient_after_sdk_retries(
    faulty_moto: tuple[Backend, FaultProxy], tmp_path: Path
) -> None:
    s3, proxy = faulty_moto
    s3.put_object("busy", b"x")
    proxy.add(Fault.slow_down(times=None, method="GET"))
    ctx = DriverContext(secrets=s3.ctx.secrets, settings=dataclasses.replace(s3.ctx.settings))
    with pytest.raises(ArtifactError) as err:
        S3Driver(ctx).load(s3.artifact("busy", s3={"endpoint": proxy.endpoint}), tmp_path / "b")
    assert err.value.transient
    assert err.value.message == "failed to get file: Please reduce your request rate."
    gets = [e for e in proxy.journal if e.kind == "request" and "GET" in e.detail]
    assert len(gets) == 3  # botocore's own attempts, configured small; no whole-op loop


def test_a_failed_range_ends_the_download_and_leaves_no_file(
    s3_moto: Backend, tmp_path: Path
) -> None:
    s3_moto.put_object("swapped", os.urandom(64 * MIB))
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    first = threading.Lock()
    swapped = threading.Event()
    released = threading.Event()
    with recording_proxy(server.endpoint) as proxy:

        def replace_object_once(rec: Recorded) -> None:
            # The object changes under the download, so this range fails If-Match; the other
            # ranges are held (until the download has failed, or a few seconds: a driver that
            # waits for its ranges in flight still ends) so that the failure is seen while most
            # ranges are still to come, however slow the machine.
            if "Range" not in rec.headers:
                return
            with first:
                later = swapped.is_set()
                swapped.set()
            if later:
                released.wait(timeout=3)
                return
            s3_moto.put_object("swapped", os.urandom(64 * MIB))

        proxy.hold = replace_object_once
        art = s3_moto.artifact("swapped", s3={"endpoint": proxy.endpoint})
        try:
            with pytest.raises(ArtifactError):
                S3Driver(s3_moto.ctx).load(art, tmp_path / "swapped")
        finally:
            released.set()
    ranged = [r for r in proxy.requests if "Range" in r.headers]
    assert not (tmp_path / "swapped").exists()
    assert any(r.status == 412 for r in ranged)
    assert len(ranged) < 64 // 5  # the ranges not yet started were never requested
