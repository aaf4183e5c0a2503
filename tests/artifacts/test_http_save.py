"""HTTP/Artifactory save, save_stream and the unsupported operations (argo-contract §16.15)."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from argoexec.models import Artifact
from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.http import (
    PASSWORD,
    USER,
    FileServer,
    artifactory_artifact,
    basic_auth,
    ctx,
    driver,
    http_artifact,
)

MIB = 1024 * 1024


class GeneratedStream(io.RawIOBase):
    """``size`` pseudo-random bytes produced on demand (never held in memory at once)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.digest = hashlib.sha256()
        self.counter = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, 256 * 1024)
        if n <= 0:
            return 0
        block = hashlib.sha256(self.counter.to_bytes(8, "big")).digest() * (n // 32 + 1)
        self.counter += 1
        memoryview(buffer)[:n] = block[:n]
        self.digest.update(block[:n])
        self.left -= n
        return n


def test_a_saved_file_arrives_byte_for_byte_with_its_length(
    http_server: FileServer, tmp_path: Path
) -> None:
    payload = os.urandom(300_000)
    src = tmp_path / "out.bin"
    src.write_bytes(payload)
    result = driver(ctx()).save(src, http_artifact(http_server.url_for("up/out.bin")))
    assert http_server.state.store["/up/out.bin"] == payload
    assert result.key == "/up/out.bin"
    assert result.size == len(payload)
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    (put,) = http_server.state.requests("PUT")
    assert put.headers["content-length"] == str(len(payload))
    assert not put.chunked


def test_a_save_follows_a_307_by_sending_the_whole_file_again(
    http_server: FileServer, tmp_path: Path
) -> None:
    payload = b"webhdfs wants the body twice\n" * 1000
    src = tmp_path / "f"
    src.write_bytes(payload)
    http_server.state.redirect_first_put.add("/hdfs/f")
    result = driver(ctx()).save(src, http_artifact(http_server.url_for("hdfs/f")))
    assert http_server.state.store["/hdfs/f"] == payload
    assert [r.body_size for r in http_server.state.requests("PUT")] == [len(payload)] * 2
    assert result.size == len(payload)


def test_a_failed_save_names_the_file_and_url(http_server: FileServer, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    http_server.state.status_for["/broken"] = 500
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save(src, http_artifact(http_server.url_for("broken")))
    assert (
        f"saving file {src} to {http_server.url}/broken failed with reason: "
        "500 Internal Server Error" in str(info.value)
    )
    assert info.value.transient


def test_a_directory_cannot_be_saved_to_a_url(http_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save(tmp_path, http_artifact(http_server.url_for("dir")))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert http_server.state.journal == []


def test_a_missing_file_is_not_found(http_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save(tmp_path / "absent", http_artifact(http_server.url_for("a")))
    assert info.value.code is ErrorCode.NOT_FOUND


def test_an_artifactory_save_uses_basic_auth(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.basic_auth = (USER, PASSWORD)
    src = tmp_path / "f"
    src.write_bytes(b"to artifactory")
    driver(ctx(), "artifactory").save(src, artifactory_artifact(http_server.url_for("r/f")))
    assert http_server.state.store["/r/f"] == b"to artifactory"


def test_a_stream_is_put_with_exactly_its_content(http_server: FileServer) -> None:
    payload = b"streamed content " * 5000
    result = driver(ctx()).save_stream(
        io.BytesIO(payload), http_artifact(http_server.url_for("s/x"))
    )
    assert http_server.state.store["/s/x"] == payload
    (put,) = http_server.state.requests("PUT")
    assert put.chunked
    assert result.size == len(payload)
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert result.key == "/s/x"


def test_a_failed_stream_save_says_saving_stream(http_server: FileServer) -> None:
    http_server.state.status_for["/s/fail"] = 500
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save_stream(io.BytesIO(b"x"), http_artifact(http_server.url_for("s/fail")))
    assert (
        f"saving stream to {http_server.url}/s/fail failed with reason: 500 Internal Server Error"
        in str(info.value)
    )


def test_a_streamed_save_cannot_follow_a_redirect(http_server: FileServer) -> None:
    http_server.state.redirect_first_put.add("/s/r")
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save_stream(io.BytesIO(b"abc"), http_artifact(http_server.url_for("s/r")))
    assert "307" in str(info.value)
    assert "/s/r" not in http_server.state.store


def test_save_stream_via_file_follows_a_redirect_and_removes_its_temp_file(
    http_server: FileServer, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    payload = b"spooled then sent twice " * 2000
    http_server.state.redirect_first_put.add("/s/via-file")
    art = http_artifact(http_server.url_for("s/via-file"), saveStreamViaFile=True)
    result = driver(ctx(tmp_dir=spool_dir)).save_stream(io.BytesIO(payload), art)
    assert http_server.state.store["/s/via-file"] == payload
    assert [r.body_size for r in http_server.state.requests("PUT")] == [len(payload)] * 2
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert list(spool_dir.iterdir()) == []


def test_save_stream_via_file_removes_its_temp_file_on_failure(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.status_for["/s/bad"] = 500
    art = http_artifact(http_server.url_for("s/bad"), saveStreamViaFile=True)
    with pytest.raises(ArtifactError):
        driver(ctx(tmp_dir=tmp_path)).save_stream(io.BytesIO(b"data"), art)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_source_stream_is_reported_as_such(http_server: FileServer) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            raise ValueError("source exploded")

    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save_stream(Broken(), http_artifact(http_server.url_for("s/broken")))
    assert "source exploded" in str(info.value)
    assert not info.value.transient


def test_ten_mib_are_streamed_without_buffering_the_body(http_server: FileServer) -> None:
    size = 10 * MIB
    source = GeneratedStream(size)
    art = http_artifact(http_server.url_for("s/big"))
    tracemalloc.start()
    try:
        result = driver(ctx()).save_stream(io.BufferedReader(source, MIB), art)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == size
    assert result.sha256 == source.digest.hexdigest()
    assert hashlib.sha256(http_server.state.store["/s/big"]).hexdigest() == result.sha256
    assert peak < 6 * MIB, f"peak traced memory {peak} bytes for a {size}-byte upload"


@pytest.mark.parametrize("which", ["neither", "both"])
def test_exactly_one_of_http_and_artifactory_must_be_set(which: str, tmp_path: Path) -> None:
    location = {"url": "http://127.0.0.1:9/x"}
    fields = {} if which == "neither" else {"http": location, "artifactory": location}
    art = Artifact.model_validate({"name": "a", **fields})
    src = tmp_path / "f"
    src.write_bytes(b"x")
    d = driver(ctx())
    calls = [
        lambda: d.save_stream(io.BytesIO(b"content"), art),
        lambda: d.save(src, art),
        lambda: d.load(art, tmp_path / "dest"),
        lambda: d.open_stream(art),
    ]
    for call in calls:
        with pytest.raises(ArtifactError) as info:
            call()
        assert "Either Artifactory or HTTP artifact needs to be configured" in str(info.value)


def test_delete_and_list_are_unsupported_and_is_directory_unimplemented(
    http_server: FileServer,
) -> None:
    art = http_artifact(http_server.url_for("k"))
    d = driver(ctx())
    with pytest.raises(ArtifactError) as info:
        d.delete(art)
    assert info.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(ArtifactError) as info:
        d.list_objects(art)
    assert info.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(ArtifactError) as info:
        d.is_directory(art)
    assert info.value.code is ErrorCode.NOT_IMPLEMENTED
    assert "IsDirectory currently unimplemented for http" in str(info.value)
    assert http_server.state.journal == []


def test_basic_auth_with_a_wrong_password_on_save_is_forbidden(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.basic_auth = (USER, "not-the-password")
    src = tmp_path / "f"
    src.write_bytes(b"x")
    art = http_artifact(http_server.url_for("p"), auth=basic_auth())
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).save(src, art)
    assert info.value.code is ErrorCode.FORBIDDEN
    assert PASSWORD not in str(info.value) + repr(info.value)
