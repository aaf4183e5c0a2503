"""S3 driver round trips against moto and SeaweedFS, checked by independent clients."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from artifacts.drivers.s3 import S3Driver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.streams import tree_digest
from tests.servers.backend import Backend
from tests.servers.s3 import minio_client

MIB = 1024 * 1024


@pytest.fixture(params=["s3_moto", "s3_seaweed"])
def s3(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "top.txt": b"top\n",
        "a/b/c/deep.bin": bytes(range(256)) * 40,
        "a/ünïcødé 文件.txt": b"unicode name\n",
        "a/empty": b"",
        "z/last.txt": b"last\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "empty-dir").mkdir()
    (root / "link-to-top").symlink_to(root / "top.txt")
    (root / "link-to-a").symlink_to(root / "a")
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_file_round_trips_with_its_size_and_digest(s3: Backend, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"hello s3\n")
    driver = S3Driver(s3.ctx)
    result = driver.save(src, s3.artifact("dir/in.txt"))
    assert (result.key, result.size, result.objects) == ("dir/in.txt", 9, 1)
    assert result.sha256 == hashlib.sha256(b"hello s3\n").hexdigest()
    assert s3.get_object("dir/in.txt") == b"hello s3\n"
    dest = tmp_path / "out" / "deeper" / "file.txt"
    driver.load(s3.artifact("dir/in.txt"), dest)
    assert dest.read_bytes() == b"hello s3\n"


def test_an_empty_file_round_trips(s3: Backend, tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    driver = S3Driver(s3.ctx)
    assert driver.save(src, s3.artifact("empty")).size == 0
    assert s3.get_object("empty") == b""
    driver.load(s3.artifact("empty"), tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b""


def test_a_directory_uploads_every_regular_file_and_loads_back(s3: Backend, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = make_tree(src)
    driver = S3Driver(s3.ctx)
    result = driver.save(src, s3.artifact("trees/t1"))
    assert sorted(s3.list_keys("trees/t1/")) == sorted(f"trees/t1/{rel}" for rel in files)
    assert result.objects == len(files)
    assert result.size == sum(len(d) for d in files.values())
    digests = [(rel, hashlib.sha256(d).hexdigest()) for rel, d in files.items()]
    assert result.sha256 == tree_digest(digests)
    dest = tmp_path / "dest"
    driver.load(s3.artifact("trees/t1"), dest)
    assert read_tree(dest) == files


def test_a_directory_key_with_a_trailing_slash_loads_the_same_tree(
    s3: Backend, tmp_path: Path
) -> None:
    s3.put_object("pre/x/1.txt", b"1")
    s3.put_object("pre/x/sub/2.txt", b"2")
    s3.put_object("pre/x/folder/", b"")  # a console "folder" marker is skipped
    dest = tmp_path / "dest"
    S3Driver(s3.ctx).load(s3.artifact("pre/x/"), dest)
    assert read_tree(dest) == {"1.txt": b"1", "sub/2.txt": b"2"}


def test_a_large_object_is_fetched_with_parallel_ranges_byte_identical(
    s3: Backend, tmp_path: Path
) -> None:
    payload = os.urandom(40 * MIB + 12345)
    s3.put_object("big/blob", payload)
    dest = tmp_path / "blob"
    S3Driver(s3.ctx).load(s3.artifact("big/blob"), dest)
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(payload).digest()


def test_a_large_stream_is_saved_as_multipart_and_streams_back_identical(s3: Backend) -> None:
    payload = os.urandom(40 * MIB + 777)
    driver = S3Driver(s3.ctx)
    art = s3.artifact("big/stream")
    result = driver.save_stream(io.BytesIO(payload), art)
    assert result.size == len(payload)
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert s3.get_object("big/stream") == payload
    stream = driver.open_stream(art)
    try:
        assert stream.size == len(payload)
        chunks = []
        while chunk := stream.read(3 * MIB + 1):
            chunks.append(chunk)
    finally:
        stream.close()
    assert b"".join(chunks) == payload


def test_a_large_file_is_saved_in_parts_byte_identical(s3: Backend, tmp_path: Path) -> None:
    payload = os.urandom(12 * MIB + 5)
    src = tmp_path / "big.bin"
    src.write_bytes(payload)
    result = S3Driver(s3.ctx).save(src, s3.artifact("big/file"))
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert s3.get_object("big/file") == payload
    client = s3.extra["client"]
    head = client.head_object(Bucket=s3.extra["bucket"], Key="big/file")  # type: ignore[attr-defined]
    assert head["ETag"].strip('"').endswith("-3")  # three parts of 5 MiB, 5 MiB, 2 MiB


def test_a_small_stream_is_one_put(s3: Backend) -> None:
    result = S3Driver(s3.ctx).save_stream(io.BytesIO(b"tiny"), s3.artifact("small/stream"))
    assert (result.size, s3.get_object("small/stream")) == (4, b"tiny")


def test_readinto_fills_the_buffer_in_order(s3: Backend) -> None:
    s3.put_object("r/obj", b"0123456789")
    stream = S3Driver(s3.ctx).open_stream(s3.artifact("r/obj"))
    buf = bytearray(4)
    got = b""
    while n := stream.readinto(buf):
        got += bytes(buf[:n])
    stream.close()
    assert got == b"0123456789"


def test_minio_reads_back_exactly_what_the_driver_wrote(s3: Backend, tmp_path: Path) -> None:
    payload = os.urandom(9 * MIB + 3)
    src = tmp_path / "f.bin"
    src.write_bytes(payload)
    S3Driver(s3.ctx).save(src, s3.artifact("cross/ours"))
    resp = minio_client(s3).get_object(s3.extra["bucket"], "cross/ours")
    try:
        assert resp.read() == payload
    finally:
        resp.close()
        resp.release_conn()


def test_the_driver_reads_exactly_what_minio_wrote(s3: Backend, tmp_path: Path) -> None:
    payload = os.urandom(11 * MIB + 9)
    minio = minio_client(s3)
    minio.put_object(
        s3.extra["bucket"], "cross/theirs", io.BytesIO(payload), len(payload), part_size=5 * MIB
    )
    dest = tmp_path / "theirs"
    S3Driver(s3.ctx).load(s3.artifact("cross/theirs"), dest)
    assert dest.read_bytes() == payload


def test_a_missing_key_is_not_found_with_the_server_message(s3: Backend, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(s3.artifact("no/such/key", name="in"), tmp_path / "x")
    assert err.value.code is ErrorCode.NOT_FOUND
    assert not err.value.transient
    assert err.value.message == "The specified key does not exist."
    assert "'in'" in str(err.value) and "no/such/key" in str(err.value)
    assert not (tmp_path / "x").exists()


def test_a_missing_bucket_is_a_permanent_get_file_error(s3: Backend, tmp_path: Path) -> None:
    art = s3.artifact("k", s3={"bucket": "no-such-bucket-here"})
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(art, tmp_path / "x")
    assert err.value.message.startswith("failed to get file: The specified bucket does not exist")
    assert not err.value.transient
    assert err.value.code is not ErrorCode.NOT_FOUND


def test_an_object_key_escaping_the_destination_is_refused(
    s3_moto: Backend, tmp_path: Path
) -> None:
    s3 = s3_moto  # SeaweedFS refuses to store keys with ".." segments at all
    s3.put_object("esc/ok.txt", b"ok")
    s3.put_object("esc/../../outside.txt", b"evil")
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(s3.artifact("esc"), tmp_path / "dest")
    assert "outside" in err.value.message
    assert not (tmp_path / "outside.txt").exists()
