"""The bounded pipe between the archive producer and a driver's upload: backpressure, EOF, and
errors travelling both ways without either side waiting forever."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from pathlib import Path
from typing import BinaryIO

import pytest

from argoexec.models import Artifact
from artifacts.archive import open_pack_stream
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.pipe import BoundedPipe, PipeAbortedError, PipeClosedError, ProducedStream
from artifacts.settings import TransferSettings

MIB = 1024 * 1024


def test_reads_return_exactly_what_was_written_in_order() -> None:
    pipe = BoundedPipe(capacity=MIB)
    payload = os.urandom(5 * MIB + 123)

    def produce() -> None:
        for start in range(0, len(payload), 300_001):
            pipe.write(payload[start : start + 300_001])
        pipe.close_write()

    writer = threading.Thread(target=produce)
    writer.start()
    got = bytearray()
    while chunk := pipe.read(777_777):
        got += chunk
    writer.join()
    assert bytes(got) == payload
    assert pipe.eof_seen


def test_a_read_blocks_until_it_is_full_or_the_stream_ends() -> None:
    pipe = BoundedPipe()
    pipe.write(b"abc")
    pipe.write(b"def")
    pipe.close_write()
    assert pipe.read(4) == b"abcd"
    buffer = bytearray(10)
    assert pipe.readinto(buffer) == 2
    assert bytes(buffer[:2]) == b"ef"
    assert pipe.read(10) == b""


def test_the_writer_waits_while_the_pipe_is_full() -> None:
    pipe = BoundedPipe(capacity=MIB)
    pipe.write(bytes(MIB))
    wrote = threading.Event()

    def more() -> None:
        pipe.write(b"x")
        wrote.set()

    thread = threading.Thread(target=more)
    thread.start()
    assert not wrote.wait(0.2)
    assert len(pipe.read(MIB)) == MIB
    assert wrote.wait(10)
    thread.join()


def test_a_reader_that_goes_away_fails_a_blocked_writer() -> None:
    pipe = BoundedPipe(capacity=MIB)
    pipe.write(bytes(MIB))
    failed: list[BaseException] = []

    def more() -> None:
        try:
            pipe.write(b"x")
        except PipeClosedError as exc:
            failed.append(exc)

    thread = threading.Thread(target=more)
    thread.start()
    pipe.close_read()
    thread.join(10)
    assert len(failed) == 1


def test_a_producer_error_reaches_the_reader() -> None:
    pipe = BoundedPipe()
    pipe.write(b"partial")
    pipe.close_write(ValueError("disk on fire"))
    with pytest.raises(PipeAbortedError, match="disk on fire"):
        pipe.read(100)


def test_the_producer_error_wins_over_what_the_consumer_made_of_it() -> None:
    def produce(sink: BinaryIO) -> None:
        sink.write(b"x" * 1000)
        raise ArtifactError("source vanished", code=ErrorCode.NOT_FOUND)

    with pytest.raises(ArtifactError, match="source vanished"), ProducedStream(produce) as reader:
        try:
            reader.read()
        except PipeAbortedError as exc:
            raise RuntimeError("upload failed") from exc


def test_a_consumer_failure_stops_the_producer_and_propagates() -> None:
    started = threading.Event()

    def produce(sink: BinaryIO) -> None:
        started.set()
        while True:
            sink.write(bytes(MIB))

    with pytest.raises(ConnectionError, match="upload refused"), ProducedStream(produce):
        started.wait(10)
        raise ConnectionError("upload refused")


def test_a_consumer_that_stops_reading_early_is_an_error() -> None:
    def produce(sink: BinaryIO) -> None:
        for _ in range(20):
            sink.write(bytes(MIB))

    early = pytest.raises(ArtifactError, match="before the whole archive stream was read")
    with early, ProducedStream(produce) as reader:
        reader.read(10)


def test_the_pack_stream_yields_a_tarball_of_the_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(3 * MIB))
    with open_pack_stream(src, Artifact(name="a"), TransferSettings()) as stream:
        data = stream.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["src", "src/f"]


def test_a_missing_source_fails_before_any_stream_is_opened(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        open_pack_stream(tmp_path / "gone", Artifact(name="a"), TransferSettings())
    assert err.value.code is ErrorCode.NOT_FOUND
